// Planted: core may not include the GUI.
#include "ui/main_window.h"
