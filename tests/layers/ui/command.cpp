// Planted: the GUI may not include the command line.
#include "app/commands.h"
