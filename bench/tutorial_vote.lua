-- POST /vote/ to the anchor project's tutorial vote (bench/anchors): three distinct cases
-- of 031–060 per request, sorted, as a form would send them. No cookies and no CSRF
-- token: the view has no rule to satisfy. The bodies are built once in init() (256 per
-- thread, cycled), so wrk spends no more per request than on a GET. A 302 to the list
-- is a stored vote ("voted"); bench/run.py compares that with the database.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "stats.lua")

extra_counters = { "sent", "voted" }
sent, voted = 0, 0

local prebuilt = {}
local position = 0

function init(args)
  math.randomseed(1000 + thread_id)
  for i = 1, 256 do
    local picked, chosen = {}, {}
    while #chosen < 3 do
      local number = math.random(31, 60)
      if not picked[number] then
        picked[number] = true
        table.insert(chosen, number)
      end
    end
    table.sort(chosen)
    local body = string.format("cases=%03d&cases=%03d&cases=%03d", chosen[1], chosen[2], chosen[3])
    prebuilt[i] = wrk.format("POST", "/vote/", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, body)
  end
end

function request()
  sent = sent + 1
  position = position % #prebuilt + 1
  return prebuilt[position]
end

function response(status, headers, body)
  count_status(status)
  if status == 302 then
    voted = voted + 1
  end
end
