-- wrk script used by bench/run.sh: it does not change the requests (no request() function,
-- so wrk keeps its static pre-built request); at the end it prints one machine-readable line
-- with exact percentiles in microseconds and the error counters.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "FNSHIM_BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
