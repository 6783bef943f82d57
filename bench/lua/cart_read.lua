-- A guest reads their cart (three lines). Args: a file of cart sessions.
dofile(os.getenv("KAZNA_BENCH_LUA") .. "/common.lua")
local sessions
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  sessions = read_lines(args[1])
end
request = function()
  return wrk.format("GET", "/api/v1/cart", { ["X-Cart-Session"] = sessions[math.random(#sessions)] })
end
