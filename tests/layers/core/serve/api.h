// The header the planted angle-bracket include names.
#pragma once
