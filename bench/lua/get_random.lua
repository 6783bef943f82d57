-- GET <prefix><random line of the list file>. Args: list file, path prefix.
dofile(os.getenv("KAZNA_BENCH_LUA") .. "/common.lua")
local items, prefix
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  items = read_lines(args[1])
  prefix = args[2]
end
request = function()
  return wrk.format("GET", prefix .. items[math.random(#items)])
end
