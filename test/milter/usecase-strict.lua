-- usecase-strict.lua: softfail refused like fail, with its own text.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("strict softfail", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@softfail.example") == SMFIR_REPLYCODE, "softfail refused")
	t.check(t.smtpreply(conn, "550", "5.7.23", "softfail.example does not designate this host as a sender"), "softfail reply text")
	t.check(t.mail(conn, "x@neutral.example") == SMFIR_CONTINUE, "neutral accepted")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "neutral ("), "neutral recorded")
	mt.disconnect(conn)
	-- a softfailing HELO is refused too (reject_helo_results follows)
	conn = t.open("192.0.2.1", "helo-softfail.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_REPLYCODE, "HELO softfail refused")
	mt.disconnect(conn)
end)

t.done()
