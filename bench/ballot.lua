-- POST /vote/: one ballot per request, each from a different pre-created follower.
--
-- BENCH_BALLOTS names a file written by bench/run.py, one line per follower:
--   <Cookie header value> TAB <X-Forwarded-For> TAB <urlencoded form body>
-- (identity cookie, device cookie, csrftoken = csrfmiddlewaretoken; the voter's own
-- address, as the TLS proxy in front of gunicorn would pass it; signed form token,
-- chosen cases). Thread i of BENCH_THREADS takes lines i, i+n, i+2n, ... so a
-- follower is never used twice; when its lines run out the thread stops and counts
-- it in "exhausted". A ballot is acknowledged when the answer is a 302 to
-- /vote/thanks/<receipt>/ ("thanks"); bench/run.py compares that with the database.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "stats.lua")

extra_counters = { "sent", "thanks", "exhausted" }
sent, thanks, exhausted = 0, 0, 0

local lines = {}
local position = 0
local origin = os.getenv("BENCH_ORIGIN")
local stopped = "GET /healthz HTTP/1.1\r\nHost: " .. (os.getenv("BENCH_HOST") or "127.0.0.1") .. "\r\n\r\n"

function init(args)
  local path = assert(os.getenv("BENCH_BALLOTS"), "BENCH_BALLOTS is not set")
  local stride = tonumber(os.getenv("BENCH_THREADS") or "1")
  local number = 0
  for line in io.lines(path) do
    if number % stride == thread_id then
      local cookie, address, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      table.insert(lines, { cookie, body, address })
    end
    number = number + 1
  end
end

function request()
  position = position + 1
  local line = lines[position]
  if line == nil then
    exhausted = exhausted + 1
    wrk.thread:stop()
    return stopped
  end
  sent = sent + 1
  return wrk.format("POST", "/vote/", {
    ["Cookie"] = line[1],
    ["X-Forwarded-For"] = line[3],
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Origin"] = origin,
    ["Referer"] = origin .. "/vote/",
  }, line[2])
end

function response(status, headers, body)
  count_status(status)
  local location = headers["Location"] or headers["location"] or ""
  if status == 302 and location:find("/vote/thanks/", 1, true) then
    thanks = thanks + 1
  end
end
