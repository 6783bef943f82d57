-- A guest adds one unit of a random variant to a fresh cart. Args: variant list file.
dofile(os.getenv("KAZNA_BENCH_LUA") .. "/common.lua")
local variants
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  variants = read_lines(args[1])
end
request = function()
  local body = '{"variant_id":"' .. variants[math.random(#variants)] .. '","quantity":1}'
  return wrk.format("POST", "/api/v1/cart/items",
    { ["Content-Type"] = "application/json", ["X-Cart-Session"] = uuid4() }, body)
end
