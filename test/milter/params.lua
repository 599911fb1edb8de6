-- params.lua: HELO not verified, authserv_id and hostname in the fields,
-- incoming Authentication-Results and Received-SPF kept, authenticated
-- senders verified.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("verify_helo = no", function()
	local conn = t.open("192.0.2.1", "helo-fail.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "failing HELO not verified")
	t.message(conn, {
		{ "Authentication-Results", "auth.test.example; spf=pass smtp.mailfrom=pass.example" },
		{ "Received-SPF", "pass (elsewhere) identity=mailfrom" },
	})
	t.check(not t.has(t.log(), "identity=helo"), "no HELO verification logged")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "(receiver.test.example: domain of") and t.has(rs, "receiver=receiver.test.example;"), "hostname: " .. tostring(rs))
	t.check(t.has(t.header(conn, "Authentication-Results"), "AUTH.test.example; spf=pass"), "authserv_id")
	t.check(not mt.eom_check(conn, MT_HDRDELETE), "incoming fields kept")
	t.check(mt.test_option(conn, SMFIP_NOHDRS), "header fields not even asked for")
	mt.disconnect(conn)
end)

t.step("trust_authenticated_senders = no", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example", { ["{auth_authen}"] = "user" }) == SMFIR_REPLYCODE, "authenticated sender still verified")
	mt.disconnect(conn)
end)

t.step("dns_timeout", function()
	local before = os.time()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@temp.example") == SMFIR_REPLYCODE, "temperror")
	t.check(os.time() - before <= 3, "answered within the 500 ms deadline (+ slack)")
	mt.disconnect(conn)
end)

t.done()
