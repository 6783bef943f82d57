-- A buyer signs in (Argon2id verification). Args: number of bench buyers.
dofile(os.getenv("KAZNA_BENCH_LUA") .. "/common.lua")
local buyers
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  buyers = tonumber(args[1])
end
request = function()
  local i = math.random(buyers) - 1
  local body = '{"email":"bench-buyer-' .. i .. '@bench.kazna.local","password":"bench buyer password"}'
  return wrk.format("POST", "/api/v1/auth/login", { ["Content-Type"] = "application/json" }, body)
end
