-- usecase-dmarc.lua: nothing refused, HELO never final, results in
-- Authentication-Results for a DMARC milter after this one.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("SPF for DMARC", function()
	local conn = t.open("192.0.2.1", "helo-pass.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "fail not refused")
	t.message(conn)
	t.check(t.header(conn, "Received-SPF") == nil, "no Received-SPF")
	local ar = t.header(conn, "Authentication-Results")
	t.check(t.has(ar, "spf=pass smtp.helo=helo-pass.example;") and t.has(ar, "spf=fail smtp.mailfrom=fail.example"),
	    "HELO pass not final, MAIL FROM fail recorded: " .. tostring(ar))
	t.check(t.mail(conn, "x@temp.example") == SMFIR_CONTINUE, "temperror not refused")
	t.message(conn)
	t.check(t.has(t.header(conn, "Authentication-Results"), "spf=temperror smtp.mailfrom=temp.example"), "temperror recorded")
	mt.disconnect(conn)
	conn = t.open("192.0.2.1", "helo-fail.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "HELO fail not refused")
	t.message(conn)
	t.check(t.has(t.header(conn, "Authentication-Results"), "spf=pass smtp.mailfrom=pass.example"), "MAIL FROM still verified")
	mt.disconnect(conn)
end)

t.done()
