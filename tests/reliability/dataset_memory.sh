#!/usr/bin/env bash
# Memory taken to read a large COCO captions file: a generated file of IMAGES images with 5
# captions each (the fields COCO has, so the same size per caption), read by `captioner train`
# (which then stops, as the images do not exist), against the same command on a 10-image file.
# Prints each peak resident memory and the difference per MB of file.
#   tests/reliability/dataset_memory.sh CAPTIONER [IMAGES] [WORK_DIR]
set -euo pipefail
captioner="$(realpath "$1")"
images="${2:-80000}"
work="${3:-$(mktemp -d)}"
mkdir -p "$work/no-images"
python3 - "$work" "$images" <<'PY'
import json, random, sys
work, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
words = ("a man woman dog cat sitting on the table with two people standing next to red bus street building "
         "large small white black field grass playing frisbee tennis ball holding umbrella").split()
def coco(count):
    images = [{"license": 3, "file_name": "COCO_train2014_%012d.jpg" % i, "height": 480, "width": 640, "id": i,
               "coco_url": "http://images.cocodataset.org/train2014/COCO_train2014_%012d.jpg" % i,
               "date_captured": "2013-11-14 16:28:13", "flickr_url": "http://farm4.staticflickr.com/x.jpg"}
              for i in range(count)]
    annotations = [{"image_id": i, "id": 5 * i + j,
                    "caption": " ".join(random.choice(words) for _ in range(random.randint(8, 14))) + "."}
                   for i in range(count) for j in range(5)]
    return {"info": {"description": "generated"}, "licenses": [], "images": images, "annotations": annotations}
json.dump(coco(n), open(work + "/large.json", "w"))
json.dump(coco(10), open(work + "/small.json", "w"))
PY
peak_mb() {  # the peak resident memory of `captioner train` on a dataset file, in MB
  python3 - "$captioner" "$1" "$work" <<'PY'
import resource, subprocess, sys
captioner, data, work = sys.argv[1:4]
subprocess.run([captioner, "train", "--data", data, "--images", work + "/no-images", "--steps", "1",
                "--out", work + "/run-" + data.split("/")[-1], "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
PY
}
large_mb=$(( $(stat -c %s "$work/large.json") / 1000000 ))
small=$(peak_mb "$work/small.json")
large=$(peak_mb "$work/large.json")
echo "10 images: $small MB; $images images ($large_mb MB of JSON): $large MB;" \
  "reading the file took $((large - small)) MB, $(awk -v d=$((large - small)) -v s="$large_mb" 'BEGIN { printf "%.1f", d / s }')x its size"
