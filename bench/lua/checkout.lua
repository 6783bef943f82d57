-- A signed-in buyer per connection alternates: add a random variant to the cart, then place
-- the order (paid by the sandbox). Args: variant list file, token list file.
-- Run with as many threads as connections, so each thread's requests are sequential.
dofile(os.getenv("KAZNA_BENCH_LUA") .. "/common.lua")
local variants, token
local counter = 0
-- What the next request is. It flips on each answer, not on each request() call: wrk calls
-- request() again for a request whose first write would block, which would skip a step.
local adding = true
local tokens_file
local next_thread = 0
setup = function(thread)
  track(thread)
  next_thread = next_thread + 1
  thread:set("thread_index", next_thread)
end
init = function(args)
  math.randomseed(os.time() + thread_index * 7919)
  variants = read_lines(args[1])
  local tokens = read_lines(args[2])
  token = tokens[((thread_index - 1) % #tokens) + 1]
end
local address = '{"name":"Bench","line1":"1 Load St","city":"Berlin","postal_code":"10115","country":"DE"}'
request = function()
  counter = counter + 1
  local auth = "Bearer " .. token
  if adding then
    local body = '{"variant_id":"' .. variants[math.random(#variants)] .. '","quantity":1}'
    return wrk.format("POST", "/api/v1/cart/items",
      { ["Content-Type"] = "application/json", ["Authorization"] = auth }, body)
  end
  local body = '{"payment_method":"pm_card_visa","shipping_address":' .. address .. '}'
  return wrk.format("POST", "/api/v1/orders",
    { ["Content-Type"] = "application/json", ["Authorization"] = auth,
      ["Idempotency-Key"] = "bench-" .. thread_index .. "-" .. counter .. "-" .. uuid4() }, body)
end
response = function(status, headers, body)
  note_failure(status, body)
  adding = not adding
end
