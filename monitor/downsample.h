// Server-side downsampling of metric series for charts: a chart a few hundred pixels wide
// gains nothing from 10,000 points, and the page must stay quick over long runs.
#pragma once

#include <cstddef>

#include "monitor/run_store.h"

namespace ponder::monitor {

// At most about `max_points` points of `series` (unchanged when it already fits): the range is
// cut into max_points / 2 buckets of consecutive points, and each bucket keeps its smallest
// and largest value in step order, so that spikes survive. A bucket with a NaN keeps one NaN
// point too (a gap in the line). The first and last points are always kept.
Series MinMaxDownsample(const Series& series, size_t max_points);

}  // namespace ponder::monitor
