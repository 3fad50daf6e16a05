// The header the planted relative include names (it must exist to be resolved).
#pragma once
