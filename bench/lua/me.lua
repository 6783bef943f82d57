-- A signed-in buyer reads their profile. Args: token list file.
dofile(os.getenv("KAZNA_BENCH_LUA") .. "/common.lua")
local tokens
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  tokens = read_lines(args[1])
end
request = function()
  return wrk.format("GET", "/api/v1/users/me", { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] })
end
