-- usecase-standard.lua: HELO first, then MAIL FROM; fail, temperror and
-- permerror refused; the rest recorded in Received-SPF only.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("standard", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@softfail.example") == SMFIR_CONTINUE, "softfail accepted")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "softfail ("), "softfail recorded")
	t.check(t.header(conn, "Authentication-Results") == nil, "no Authentication-Results by default")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_REPLYCODE, "fail refused")
	t.check(t.smtpreply(conn, "550", "5.7.23", "SPF validation failed: 192.0.2.1 is not a permitted sender for fail.example"), "default fail reply")
	t.check(t.mail(conn, "x@temp.example") == SMFIR_REPLYCODE, "temperror refused")
	t.check(t.smtpreply(conn, "451", "4.7.24"), "temperror 451 4.7.24")
	t.check(t.mail(conn, "x@perm.example") == SMFIR_REPLYCODE, "permerror refused")
	t.check(t.smtpreply(conn, "550", "5.7.24"), "permerror 550 5.7.24")
	mt.disconnect(conn)
	conn = t.open("192.0.2.1", "helo-fail.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_REPLYCODE, "HELO fail refused")
	mt.disconnect(conn)
end)

t.done()
