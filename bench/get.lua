-- GET the URL given to wrk (headers such as the admin's Cookie come from -H),
-- counting responses by status (see stats.lua) and requests sent, so that a run in
-- which the server never answers shows as "unanswered" rather than as 0 errors.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "stats.lua")

extra_counters = { "sent" }
sent = 0

local prebuilt

function init(args)
  prebuilt = wrk.format()
end

function request()
  sent = sent + 1
  return prebuilt
end
