-- exempt.lua: a forwarder whose PTR name is forward-confirmed, and one
-- that passes its own domain's SPF record, get their failing mail
-- through with the true result recorded; a forged PTR, a HELO naming the
-- forwarder, a sender at the forwarder's domain never exempt; mail that
-- would not be refused costs no exemption question.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

-- The questions the DNS server was asked so far (run-milter-tests.sh
-- keeps its log next to the scripts' directories).
local function dns_log()
	return t.slurp(dir .. "/../dns.log")
end

-- MAIL FROM SENDER from IP saying HELO: refused?
local function refused(ip, helo, sender, what)
	local conn = t.open(ip, helo)
	local mark = #t.log()
	local r = t.mail(conn, sender)
	t.check(r == SMFIR_REPLYCODE, what .. ": refused")
	t.check(t.smtpreply(conn, "550", "5.7.23"), what .. ": 550 5.7.23")
	t.check(t.has(t.log_since(mark), "not exempt: "), what .. ": logged as not exempt")
	mt.disconnect(conn)
end

t.step("RCPT is not negotiated without exempt_recipients", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(mt.test_option(conn, SMFIP_NORCPT), "SMFIP_NORCPT")
	mt.disconnect(conn)
end)

t.step("forwarder, PTR confirmed", function()
	local conn = t.open("192.0.2.77", "mx2.fwd.example")
	local mark = #t.log()
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "fail from the forwarder: not refused")
	t.check(t.message(conn) == SMFIR_CONTINUE, "message accepted")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "fail (mx.test.example: domain of x@fail.example does not designate 192.0.2.77 as permitted sender, not enforced: trusted forwarder mx2.fwd.example, PTR confirmed) receiver=mx.test.example;"), "Received-SPF: the true result, the exemption named: " .. tostring(rs))
	t.check(string.find(rs or "", "; identity=mailfrom$") ~= nil, "identity last")
	local ar = t.header(conn, "Authentication-Results")
	t.check(ar == "mx.test.example; spf=fail (not enforced: trusted forwarder mx2.fwd.example, PTR confirmed) smtp.mailfrom=fail.example", "Authentication-Results: spf=fail kept: " .. tostring(ar))
	t.check(not t.has(rs, "pass") and not t.has(ar, "pass"), "no pass anywhere")
	local log = t.log_since(mark)
	t.check(t.has(log, "exempt: trusted forwarder mx2.fwd.example, PTR confirmed (DNS questions: 2,"), "exemption logged with its cost")
	t.check(t.has(log, "result=fail mechanism=\"-all\" action=skip (trusted forwarder mx2.fwd.example, PTR confirmed)"), "verdict logged: skip")
	t.check(t.has(log, "result=fail recorded (not enforced: trusted forwarder mx2.fwd.example, PTR confirmed)"), "recorded, not enforced")
	mt.disconnect(conn)
end)

t.step("forwarder below a .suffix, over IPv6", function()
	local conn = t.open("2001:db8::77", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "not refused")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "fail (mx.test.example: domain of x@fail.example does not designate 2001:db8::77 as permitted sender, not enforced: trusted forwarder a.lists.example, PTR confirmed)"), "Received-SPF names a.lists.example")
	mt.disconnect(conn)
end)

t.step("a confirmed name with hostile bytes: noted, cleaned", function()
	local conn = t.open("192.0.2.80", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "not refused")
	t.message(conn)
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "not enforced: trusted forwarder x?spf?pass?.lists.example, PTR confirmed) receiver="), "the name cleaned in Received-SPF: " .. tostring(rs))
	t.check(string.find(rs or "", "; identity=mailfrom$") ~= nil, "identity still last")
	local ar = t.header(conn, "Authentication-Results")
	t.check(ar == "mx.test.example; spf=fail (not enforced: trusted forwarder x?spf?pass?.lists.example, PTR confirmed) smtp.mailfrom=fail.example", "A-R: one result, fail: " .. tostring(ar))
	mt.disconnect(conn)
end)

t.step("forwarder domain: the client passes its SPF record", function()
	local conn = t.open("192.0.2.78", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "not refused")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "fail (mx.test.example: domain of x@fail.example does not designate 192.0.2.78 as permitted sender, not enforced: trusted forwarder domain forwarder.example, SPF pass)"), "Received-SPF: fail, forwarder.example named")
	t.check(t.header(conn, "Authentication-Results") == "mx.test.example; spf=fail (not enforced: trusted forwarder domain forwarder.example, SPF pass) smtp.mailfrom=fail.example", "A-R spf=fail")
	-- a temperror is lifted as well: the forwarder vouches for the client
	t.check(t.mail(conn, "x@perm.example") == SMFIR_CONTINUE, "permerror from it: not refused")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "permerror ("), "permerror recorded")
	mt.disconnect(conn)
end)

t.step("forged PTR: the name's A record lacks the client", function()
	refused("192.0.2.66", "helo-neutral.example", "x@fail.example", "forged PTR")
	t.check(t.has(t.log(), "not exempt: no PTR name in trusted_forwarders confirmed"), "why not: unconfirmed")
end)

t.step("a HELO naming the forwarder", function()
	refused("192.0.2.67", "mx2.fwd.example", "x@fail.example", "HELO mx2.fwd.example, no PTR")
	refused("192.0.2.66", "mx2.fwd.example", "x@fail.example", "HELO mx2.fwd.example, forged PTR")
end)

t.step("a sender at the forwarder's domain", function()
	refused("192.0.2.67", "helo-neutral.example", "x@forwarder.example", "sender at forwarder.example")
	t.check(t.has(t.log(), "forwarder.example gives fail"), "forwarder.example's record asked, fail")
	refused("192.0.2.67", "helo-neutral.example", "x@fwd.example", "sender at fwd.example")
end)

t.step("no exemption question unless the result is refused", function()
	local ptr = "69.2.0.192.in-addr.arpa"
	local conn = t.open("192.0.2.69", "helo-neutral.example")
	local mark = #t.log()
	-- pass (not from .69: nothing passes for it) and softfail are not
	-- refused: no exemption is looked for
	t.check(t.mail(conn, "x@softfail.example") == SMFIR_CONTINUE, "softfail accepted")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "softfail (mx.test.example: domain of transitioning x@softfail.example does not designate 192.0.2.69 as permitted sender) "), "softfail recorded, no note")
	t.check(t.mail(conn, "x@neutral.example") == SMFIR_CONTINUE, "neutral accepted")
	t.message(conn)
	t.check(not t.has(dns_log(), ptr), "no PTR question for softfail and neutral")
	t.check(not t.has(t.log_since(mark), "exempt"), "no exemption check logged")
	mt.disconnect(conn)
	conn = t.open("192.0.2.1", "helo-neutral.example")
	mark = #t.log()
	t.check(t.mail(conn, "x@pass.example") == SMFIR_CONTINUE, "pass accepted")
	t.message(conn)
	t.check(not t.has(dns_log(), "1.2.0.192.in-addr.arpa"), "no PTR question for a pass")
	t.check(not t.has(t.log_since(mark), "exempt"), "no exemption check for a pass")
	mt.disconnect(conn)
	-- the same client with a result that is refused: now it is asked
	refused("192.0.2.69", "helo-neutral.example", "x@fail.example", "fail from .69")
	t.check(t.has(dns_log(), ptr), "a refused result asks the PTR")
end)

t.step("several messages: the exemption is per message", function()
	local conn = t.open("192.0.2.77", "helo-neutral.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "first: exempt")
	t.message(conn)
	t.check(t.mail(conn, "x@softfail.example") == SMFIR_CONTINUE, "second: softfail, not refused")
	t.message(conn)
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "softfail (") and not t.has(rs, "not enforced"), "second: no note: " .. tostring(rs))
	mt.disconnect(conn)
end)

t.done()
