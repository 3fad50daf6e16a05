// Planted for layer_check_refuses_planted_includes: util may not reach up to eval.
#include "../eval/metrics.h"
