-- rcpt.lua: with exempt_recipients, a refusal moves to RCPT TO: exempt
-- recipients are accepted, the others get the configured reply, and a
-- message that reaches only exempt ones carries its true result.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

-- RCPT TO:<ADDR>; returns the milter's reply.
local function rcpt(conn, addr)
	t.must("rcptto", mt.rcptto(conn, addr))
	return mt.getreply(conn)
end

-- The rest of a message after its recipients; the reply at its end.
-- (steps the milter negotiated away are not sent: miltertest refuses)
local function body(conn)
	if not mt.test_option(conn, SMFIP_NODATA) then
		t.must("data", mt.data(conn))
	end
	if not mt.test_option(conn, SMFIP_NOHDRS) then
		t.must("header From", mt.header(conn, "From", "a@example.net"))
	end
	if not mt.test_option(conn, SMFIP_NOEOH) then
		t.must("eoh", mt.eoh(conn))
	end
	if not mt.test_option(conn, SMFIP_NOBODY) then
		t.must("body", mt.bodystring(conn, "hello\r\n"))
	end
	t.must("eom", mt.eom(conn))
	return mt.getreply(conn)
end

t.step("RCPT is negotiated", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(not mt.test_option(conn, SMFIP_NORCPT), "no SMFIP_NORCPT")
	mt.disconnect(conn)
end)

t.step("fail: refused per recipient, postmaster accepted", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	local mark = #t.log()
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "MAIL FROM continues")
	t.check(t.has(t.log_since(mark), "result=fail mechanism=\"-all\" action=reject at RCPT TO, but for exempt_recipients"), "verdict logged: refused at RCPT")
	t.check(rcpt(conn, "<postmaster@test.example>") == SMFIR_CONTINUE, "postmaster accepted")
	mark = #t.log()
	t.check(rcpt(conn, "<user@test.example>") == SMFIR_REPLYCODE, "user refused")
	t.check(t.smtpreply(conn, "550", "5.7.23", "SPF validation failed: 192.0.2.1 is not a permitted sender for fail.example"), "user: the configured reply")
	t.check(t.has(t.log_since(mark), "recipient=\"<user@test.example>\" refused, result=fail"), "refusal logged")
	t.check(rcpt(conn, "<Postmaster>") == SMFIR_CONTINUE, "<Postmaster> without a domain accepted (RFC 5321 4.5.1)")
	t.check(rcpt(conn, "<POSTMASTER@other.example>") == SMFIR_CONTINUE, "postmaster at any domain, any case")
	t.check(rcpt(conn, "<abuse@test.example>") == SMFIR_CONTINUE, "a listed address accepted")
	t.check(rcpt(conn, "<abuse@other.example>") == SMFIR_REPLYCODE, "the same local-part elsewhere refused")
	t.check(rcpt(conn, "<postmaster2@test.example>") == SMFIR_REPLYCODE, "postmaster2 refused")
	t.check(body(conn) == SMFIR_CONTINUE, "the message goes on for the exempt ones")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "fail (mx.test.example: domain of x@fail.example does not designate 192.0.2.1 as permitted sender, not enforced: exempt recipients only) "), "Received-SPF: true result, noted: " .. tostring(rs))
	t.check(t.header(conn, "Authentication-Results") == "mx.test.example; spf=fail (not enforced: exempt recipients only) smtp.mailfrom=fail.example", "A-R spf=fail")
	t.check(t.has(t.log(), "result=fail recorded (not enforced: exempt recipients only)"), "recorded, logged")
	mt.disconnect(conn)
end)

t.step("temperror: 451 per recipient", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@temp.example") == SMFIR_CONTINUE, "MAIL FROM continues")
	t.check(rcpt(conn, "<user@test.example>") == SMFIR_REPLYCODE, "user: reply")
	t.check(t.smtpreply(conn, "451", "4.7.24"), "user: 451 4.7.24")
	t.check(rcpt(conn, "<postmaster@test.example>") == SMFIR_CONTINUE, "postmaster accepted")
	mt.disconnect(conn)
end)

t.step("a HELO refusal moves to RCPT too", function()
	local conn = t.open("192.0.2.1", "helo-fail.example")
	t.check(t.mail(conn, "x@pass.example") == SMFIR_CONTINUE, "MAIL FROM continues")
	t.check(rcpt(conn, "<user@test.example>") == SMFIR_REPLYCODE, "user refused for the HELO fail")
	t.check(rcpt(conn, "<postmaster@test.example>") == SMFIR_CONTINUE, "postmaster accepted")
	t.check(body(conn) == SMFIR_CONTINUE, "message")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "fail (") and t.has(rs, "not enforced: exempt recipients only") and t.has(rs, "identity=helo"), "HELO fail recorded: " .. tostring(rs))
	mt.disconnect(conn)
end)

t.step("nothing refused: every recipient accepted, no note", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@pass.example") == SMFIR_CONTINUE, "pass")
	t.check(rcpt(conn, "<user@test.example>") == SMFIR_CONTINUE, "user accepted")
	t.check(rcpt(conn, "<postmaster@test.example>") == SMFIR_CONTINUE, "postmaster accepted")
	t.check(body(conn) == SMFIR_CONTINUE, "message")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "pass (") and not t.has(rs, "not enforced"), "pass, no note")
	-- the next message on the connection starts afresh
	t.check(t.mail(conn, "y@fail.example") == SMFIR_CONTINUE, "next: fail, MAIL FROM continues")
	t.check(rcpt(conn, "<user@test.example>") == SMFIR_REPLYCODE, "next: user refused")
	mt.disconnect(conn)
end)

t.step("a trusted forwarder: every recipient accepted", function()
	local conn = t.open("192.0.2.77", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "MAIL FROM continues")
	t.check(rcpt(conn, "<user@test.example>") == SMFIR_CONTINUE, "user accepted")
	t.check(body(conn) == SMFIR_CONTINUE, "message")
	t.check(t.has(t.header(conn, "Received-SPF"), "not enforced: trusted forwarder mx2.fwd.example, PTR confirmed)"), "the forwarder named, not the recipients")
	mt.disconnect(conn)
end)

t.step("no recipient seen: refused at end of message", function()
	-- miltertest lets a script skip RCPT; an MTA never does
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "MAIL FROM continues")
	t.check(body(conn) == SMFIR_REPLYCODE, "refused at end of message")
	t.check(t.smtpreply(conn, "550", "5.7.23"), "550 5.7.23")
	t.check(not mt.eom_check(conn, MT_HDRINSERT), "no header field")
	mt.disconnect(conn)
end)

t.done()
