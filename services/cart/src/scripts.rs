//! The cart's Redis scripts: each change of a cart, with every check it makes, is one script,
//! so it is atomic whatever else runs at the same time; each answers the cart as it leaves it,
//! so a change is one round trip.
//!
//! A cart is a hash: `<variant id>` → quantity, `p:<variant id>` → the unit price when the
//! shopper set the line (`<amount> <currency>`), and `currency`. What the cart knows of a
//! variant is the read model's hash `<prefix>cart:v:<variant id>` (see [`crate::model`]).

/// Answers the cart under `KEYS[1]`: `currency, n, then per line: variant, quantity, price
/// when set, status, available, amount, currency, product, seller, name, sku`, a model's
/// fields empty where the model has no copy of the variant. `ARGV[1]` is the model's prefix.
/// `load_cart` reads a cart with one call; `answer` reads each line's model with one more,
/// but for the lines whose model the caller has read already (`known`).
///
/// Every answer is one string, its fields joined by NUL (see [`SEPARATOR`]): one bulk reply
/// is far cheaper to send and to read than an array of a dozen.
const READ: &str = r"
local function load_cart(cart)
  local all = redis.call('HGETALL', cart)
  local fields, lines = {}, {}
  for i = 1, #all, 2 do
    local field = all[i]
    fields[field] = all[i + 1]
    if field ~= 'currency' and string.sub(field, 1, 2) ~= 'p:' then
      lines[#lines + 1] = field
    end
  end
  return fields, lines
end

local function answer(fields, lines, prefix, known)
  local out = {fields['currency'] or '', #lines}
  for _, v in ipairs(lines) do
    out[#out + 1] = v
    out[#out + 1] = fields[v]
    out[#out + 1] = fields['p:' .. v] or ''
    local m = known[v] or redis.call('HMGET', prefix .. v,
      'status', 'available', 'amount', 'currency', 'product', 'seller', 'name', 'sku')
    for j = 1, 8 do
      out[#out + 1] = m[j] or ''
    end
  end
  return out
end

local function reply(out)
  return table.concat(out, '\0')
end

local function read_cart(cart, prefix)
  local fields, lines = load_cart(cart)
  return answer(fields, lines, prefix, {})
end
";

/// The lines of the cart under `cart` (not its other fields).
const LINES: &str = r"
local function lines_of(cart)
  local n = 0
  for _, field in ipairs(redis.call('HKEYS', cart)) do
    if field ~= 'currency' and string.sub(field, 1, 2) ~= 'p:' then
      n = n + 1
    end
  end
  return n
end
";

/// Sets one line. `KEYS`: the cart, the variant's model. `ARGV`: the model prefix, the
/// variant, `add` or `set`, the quantity (added, or the new one; 0 removes), the most a line
/// holds, the most lines, the cart's lifetime in seconds. Answers `ok, cart...` or
/// `error, detail`: `miss` (no copy of the variant: fill the model and run again),
/// `unknown_variant`, `too_many`, `insufficient_stock`, `currency_mismatch`, `cart_full`.
const SET_BODY: &str = r"
local cart, model = KEYS[1], KEYS[2]
local prefix, v, mode = ARGV[1], ARGV[2], ARGV[3]
local n, max_q, max_lines, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local fields, lines = load_cart(cart)
local have = tonumber(fields[v] or '0')
local want = n
if mode == 'add' then want = have + n end
local known = {}
if want <= 0 then
  redis.call('HDEL', cart, v, 'p:' .. v)
  fields[v], fields['p:' .. v] = nil, nil
  local left = {}
  for _, line in ipairs(lines) do
    if line ~= v then left[#left + 1] = line end
  end
  lines = left
  if #lines == 0 then
    redis.call('DEL', cart)
    fields = {}
  end
else
  local m = redis.call('HMGET', model,
    'status', 'available', 'amount', 'currency', 'product', 'seller', 'name', 'sku')
  if not m[1] then return 'miss\0' end
  if m[1] ~= 'active' then return 'unknown_variant\0' end
  if want > max_q then return 'too_many\0' .. tostring(have) end
  if want > tonumber(m[2]) then return 'insufficient_stock\0' .. m[2] end
  if have == 0 then
    local currency = fields['currency']
    if #lines > 0 and currency and currency ~= m[4] then return 'currency_mismatch\0' .. currency end
    if #lines >= max_lines then return 'cart_full\0' end
  end
  local price = m[3] .. ' ' .. m[4]
  redis.call('HSET', cart, v, want, 'p:' .. v, price, 'currency', m[4])
  redis.call('EXPIRE', cart, ttl)
  if not fields[v] then lines[#lines + 1] = v end
  fields[v], fields['p:' .. v], fields['currency'] = tostring(want), price, m[4]
  known[v] = m
end
local out = answer(fields, lines, prefix, known)
table.insert(out, 1, 'ok')
return reply(out)
";

/// Moves a guest's cart into a user's: each line's quantity added to what the user has, up
/// to what is available and the most a line holds; lines the user cannot take (not on sale,
/// another currency, no room) stay out. The guest's cart is then gone, so merging twice gives
/// what merging once gave. `KEYS`: the guest's cart, the user's. `ARGV`: the model prefix,
/// the most a line holds, the most lines, the user cart's lifetime.
const MERGE_BODY: &str = r"
local guest, user = KEYS[1], KEYS[2]
local prefix, max_q, max_lines, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local all = redis.call('HGETALL', guest)
for i = 1, #all, 2 do
  local v = all[i]
  if v ~= 'currency' and string.sub(v, 1, 2) ~= 'p:' then
    local m = redis.call('HMGET', prefix .. v, 'status', 'available', 'amount', 'currency')
    local have = tonumber(redis.call('HGET', user, v) or '0')
    local currency = redis.call('HGET', user, 'currency')
    local lines = lines_of(user)
    local fits = m[1] == 'active'
      and (have > 0 or lines == 0 or not currency or currency == m[4])
      and (have > 0 or lines < max_lines)
    if fits then
      local want = math.min(have + tonumber(all[i + 1]), max_q, math.max(tonumber(m[2]), have))
      if want > 0 then
        redis.call('HSET', user, v, want, 'p:' .. v, m[3] .. ' ' .. m[4], 'currency', m[4])
      end
    end
  end
end
redis.call('DEL', guest)
if redis.call('EXISTS', user) == 1 then redis.call('EXPIRE', user, ttl) end
local out = read_cart(user, prefix)
table.insert(out, 1, 'ok')
return reply(out)
";

/// Takes the lines of an order accepted out of a user's cart: each quantity ordered is
/// subtracted (a line added meanwhile stays). `KEYS`: the cart. `ARGV`: pairs of variant and
/// quantity.
const TAKE_BODY: &str = r"
local cart = KEYS[1]
for i = 1, #ARGV, 2 do
  local v = ARGV[i]
  local left = tonumber(redis.call('HGET', cart, v) or '0') - tonumber(ARGV[i + 1])
  if left > 0 then
    redis.call('HSET', cart, v, left)
  else
    redis.call('HDEL', cart, v, 'p:' .. v)
  end
end
if lines_of(cart) == 0 then redis.call('DEL', cart) end
return 1
";

/// What joins the fields of a script's answer. No field can hold it: PostgreSQL, where the
/// catalog keeps every name and SKU, refuses the NUL character in text, and ids, numbers and
/// currency codes never have one.
pub const SEPARATOR: char = '\0';

/// The scripts, built once.
pub struct Scripts {
    pub read: redis::Script,
    pub set: redis::Script,
    pub merge: redis::Script,
    pub take: redis::Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            read: redis::Script::new(&format!(
                "{READ}\nreturn reply(read_cart(KEYS[1], ARGV[1]))"
            )),
            set: redis::Script::new(&format!("{READ}{SET_BODY}")),
            merge: redis::Script::new(&format!("{READ}{LINES}{MERGE_BODY}")),
            take: redis::Script::new(&format!("{LINES}{TAKE_BODY}")),
        }
    }
}

impl Default for Scripts {
    fn default() -> Self {
        Self::new()
    }
}
