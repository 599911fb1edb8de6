-- usecase-dmarc-helo.lua: a failing HELO is refused at once; otherwise
-- MAIL FROM is verified and recorded, never refused.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("DMARC with early HELO reject", function()
	local conn = t.open("192.0.2.1", "helo-fail.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_REPLYCODE, "HELO fail refused")
	t.check(t.smtpreply(conn, "550", "5.7.23"), "550 5.7.23")
	mt.disconnect(conn)
	conn = t.open("192.0.2.1", "helo-pass.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "HELO pass not final, MAIL FROM fail not refused")
	t.message(conn)
	local ar = t.header(conn, "Authentication-Results")
	t.check(t.has(ar, "spf=fail smtp.mailfrom=fail.example"), "MAIL FROM recorded: " .. tostring(ar))
	t.check(not t.has(ar, "smtp.helo"), "HELO result not included: " .. tostring(ar))
	mt.disconnect(conn)
end)

t.done()
