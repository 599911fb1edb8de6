-- usecase-both.lua: both header fields, with the HELO result too.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("both header fields, both identities", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "continues")
	t.message(conn)
	-- the final result on top (RFC 7208 9.1; readers take the top one)
	local first, second = t.header(conn, "Received-SPF", 0), t.header(conn, "Received-SPF", 1)
	t.check(t.has(first, "pass (") and t.has(first, "identity=mailfrom"), "MAIL FROM field on top: " .. tostring(first))
	t.check(t.has(second, "neutral (") and t.has(second, "identity=helo"), "HELO field below: " .. tostring(second))
	t.check(t.has(second, 'envelope-from="a@pass.example"'), "HELO field names the real sender: " .. tostring(second))
	local ar = t.header(conn, "Authentication-Results")
	t.check(ar ~= nil and string.find(ar, "^mx.test.example;%s+spf=neutral%s+smtp.helo=helo%-neutral.example;%s+spf=pass%s+smtp.mailfrom=pass.example$") ~= nil,
	    "one Authentication-Results with both: " .. tostring(ar))
	t.check(t.header(conn, "Authentication-Results", 1) == nil, "only one Authentication-Results")
	mt.disconnect(conn)
end)

t.step("definitive HELO: one identity", function()
	local conn = t.open("192.0.2.1", "helo-pass.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "continues")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "identity=helo"), "HELO field")
	t.check(t.header(conn, "Received-SPF", 1) == nil, "no MAIL FROM field")
	t.check(t.has(t.header(conn, "Authentication-Results"), "spf=pass smtp.helo=helo-pass.example"), "A-R helo")
	mt.disconnect(conn)
end)

t.done()
