-- dryrun.lua: nothing refused, no header added or deleted, all logged.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("dry run", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "fail not refused")
	t.message(conn, {
		{ "Authentication-Results", "mx.test.example; spf=pass smtp.mailfrom=fail.example" },
		{ "Received-SPF", "pass (forged) identity=mailfrom" },
	})
	t.check(not mt.eom_check(conn, MT_HDRINSERT) and not mt.eom_check(conn, MT_HDRADD), "no header added")
	t.check(not mt.eom_check(conn, MT_HDRDELETE), "no header deleted")
	local log = t.log()
	t.check(t.has(log, "dry run: would reply 550 5.7.23"), "would-be reply logged")
	t.check(t.has(log, "action=none (dry run: reject)"), "action logged")
	t.check(t.has(log, "dry run: would delete 1 incoming Authentication-Results"), "would-be deletion logged")
	t.check(t.has(log, "dry run: would delete 1 incoming Received-SPF"), "would-be Received-SPF deletion logged")
	t.check(t.mail(conn, "x@temp.example") == SMFIR_CONTINUE, "temperror not refused")
	t.message(conn)
	mt.disconnect(conn)
	-- a HELO that would be refused: MAIL FROM is still verified
	conn = t.open("192.0.2.1", "helo-fail.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "HELO fail not refused")
	t.message(conn)
	mt.disconnect(conn)
end)

t.done()
