-- wrk script for a fixed request count (bench/run.sh's callgrind runs): each wrk thread stops
-- after WRK_REQUESTS_PER_THREAD answers. The exact count the proxy served is taken from its own
-- log, since requests in flight when a thread stops are still served.
local limit = tonumber(os.getenv("WRK_REQUESTS_PER_THREAD") or "1000")
local answered = 0
response = function()
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
