-- quiet.lua: log_level = warn: no info or debug line for routine traffic;
-- dns_cache_size = 0 still verifies.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("log level", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_REPLYCODE, "fail refused")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "pass accepted")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "pass ("), "pass recorded")
	mt.disconnect(conn)
	local log = t.log()
	t.check(not t.has(log, ": info: ") and not t.has(log, ": debug: "), "no info or debug line: " .. log)
end)

t.done()
