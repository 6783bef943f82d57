-- GET <prefix><random line of the list file>. Args: list file, path prefix, and optionally
-- one header ("Cache-Control: no-cache").
dofile(os.getenv("KAZNA_BENCH_LUA") .. "/common.lua")
local items, prefix
local headers = {}
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  items = read_lines(args[1])
  prefix = args[2]
  if args[3] then
    local name, value = args[3]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
end
request = function()
  return wrk.format("GET", prefix .. items[math.random(#items)], headers)
end
