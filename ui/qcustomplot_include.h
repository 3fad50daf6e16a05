#pragma once
// QCustomPlot, included through here only. Its header uses Qt's `signals` and `foreach` keywords,
// which the project turns off (QT_NO_KEYWORDS, so that no Qt macro can clash with a LibTorch
// header whatever the include order): they are defined for this header alone.
#define signals Q_SIGNALS
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef foreach
#undef signals
