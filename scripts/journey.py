#!/usr/bin/env python3
"""The walking-skeleton journey against a running shop, through its gateway only:
a buyer signs up, an admin lists a product, the buyer finds it with a typo, adds two to the
cart, checks out with the sandbox's test card, and sees the order paid, the stock taken, the
cart empty and the confirmation sent.

    scripts/journey.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD

The admin must exist (`kazna users create --role admin`). Exits non-zero on the first
thing that is not as a shopper would expect."""
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

BASE, ADMIN, ADMIN_PASSWORD = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
RUN = uuid.uuid4().hex[:10]


def call(method, path, token=None, body=None, headers=None):
    req = urllib.request.Request(BASE + path, method=method)
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, data, timeout=15) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def expect(what, status, body, want):
    if status != want:
        sys.exit(f"journey: {what}: {status} (wanted {want}): {body}")
    return body


def eventually(what, seconds, probe):
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            sys.exit(f"journey: {what} did not happen within {seconds} s")
        time.sleep(0.3)


def login(email, password):
    s, b = call("POST", "/api/v1/auth/login", body={"email": email, "password": password})
    return expect(f"sign in as {email}", s, b, 200)["access_token"]


buyer_email = f"buyer-{RUN}@example.com"
s, b = call("POST", "/api/v1/auth/register",
            body={"email": buyer_email, "password": "correct horse battery", "name": "Ada"})
expect("sign up", s, b, 201)
buyer = login(buyer_email, "correct horse battery")
admin = login(ADMIN, ADMIN_PASSWORD)

s, cat = call("POST", "/api/v1/categories", admin, {"name": f"Lamps {RUN}"})
expect("create a category", s, cat, 201)
s, product = call("POST", "/api/v1/products", admin, {
    "name": f"Brass desk lamp {RUN}",
    "description": "A heavy lamp with a linen shade",
    "category_ids": [cat["id"]],
    "attributes": {"material": "brass"},
    "variants": [{"sku": f"LAMP-{RUN}", "options": {"colour": "gold"},
                  "price": {"amount": 4999, "currency": "EUR"}, "stock": 5}],
})
expect("create a product", s, product, 201)
product_id, variant_id = product["id"], product["variants"][0]["id"]


def found_with_a_typo():
    s, b = call("GET", f"/api/v1/search?q=lamb+{RUN}")
    if s != 200:
        return None
    return next((i for i in b["items"] if i["product_id"] == product_id), None)


hit = eventually("the product becoming searchable", 20, found_with_a_typo)
if hit["price"] != {"amount": 4999, "currency": "EUR"}:
    sys.exit(f"journey: the search hit's price is {hit['price']}")

s, cart = call("POST", "/api/v1/cart/items", buyer, {"variant_id": variant_id, "quantity": 2})
expect("add to cart", s, cart, 200)
if cart["subtotal"] != {"amount": 9998, "currency": "EUR"}:
    sys.exit(f"journey: the cart's subtotal is {cart['subtotal']}")

order_body = {"payment_method": "pm_card_visa", "shipping_address": {
    "name": "Ada Lovelace", "line1": "1 Analytical St", "city": "London",
    "postal_code": "N1 1AA", "country": "GB"}}
key = {"Idempotency-Key": f"journey-{RUN}"}
s, order = call("POST", "/api/v1/orders", buyer, order_body, key)
expect("place the order", s, order, 201)
s, again = call("POST", "/api/v1/orders", buyer, order_body, key)
if again.get("id") != order["id"]:
    sys.exit(f"journey: the retried checkout gave another order: {s} {again}")


def paid():
    s, o = call("GET", f"/api/v1/orders/{order['id']}", buyer)
    return o if s == 200 and o["status"] == "paid" else None


order = eventually("the order becoming paid", 30, paid)
s, payment = call("GET", f"/api/v1/payments/{order['payment']['id']}", buyer)
expect("read the payment", s, payment, 200)
if payment["status"] != "succeeded" or payment["amount"] != {"amount": 9998, "currency": "EUR"}:
    sys.exit(f"journey: the payment is {payment}")


def stock_taken():
    s, p = call("GET", f"/api/v1/products/{product_id}")
    v = p["variants"][0] if s == 200 else {}
    return p if (v.get("stock"), v.get("reserved")) == (3, 0) else None


eventually("the stock going from 5 to 3", 20, stock_taken)
s, cart = call("GET", "/api/v1/cart", buyer)
if s != 200 or cart["items"]:
    sys.exit(f"journey: the cart is not empty after checkout: {s} {cart}")


def confirmation_sent():
    s, log = call("GET", f"/api/v1/notifications?recipient={buyer_email}", admin)
    if s != 200:
        return None
    sent = [n for n in log["items"] if n["status"] == "sent" and n["channel"] == "email"
            and n["event"] == "order.paid"]
    return sent or None


eventually("the order confirmation email being sent", 30, confirmation_sent)
print(f"journey: order {order['id']} paid with {payment['provider']}, stock 5 → 3, "
      "cart empty, confirmation sent")
