// Planted: an angle-bracket include of a higher layer.
#include <core/serve/api.h>
