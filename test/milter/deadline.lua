-- deadline.lua: the exemption checks run inside the DNS deadline: with
-- HELO and MAIL FROM verified and a forwarder to look for, the reply to
-- MAIL FROM still comes within 2 x dns_timeout (2 s here): the checks
-- get dns_timeout, cut to what is left of twice it.  Client 192.0.2.88's
-- PTR question and everything about helo-temp.example and temp.example
-- is never answered.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(30)

local T = 2.0		-- dns_timeout
local SLACK = 0.8	-- scheduling, miltertest and the DNS server

local function now()
	local p = io.popen("date +%s.%N")
	local s = p:read("*l")
	p:close()
	return tonumber(s)
end

-- MAIL FROM SENDER from 192.0.2.88 saying HELO: refused with CODE, and
-- within LIMIT seconds?
local function timed(helo, sender, code, limit, what)
	local conn = t.open("192.0.2.88", helo)
	local mark = #t.log()
	local t0 = now()
	local r = t.mail(conn, sender)
	local took = now() - t0
	t.check(r == SMFIR_REPLYCODE and t.smtpreply(conn, code, code == "451" and "4.7.24" or "5.7.23"), what .. ": refused " .. code)
	t.check(took < limit, string.format("%s: reply after %.2f s (at most %.2f)", what, took, limit))
	mt.disconnect(conn)
	return t.log_since(mark), took
end

t.step("HELO and MAIL FROM time out: no time left for the checks", function()
	local log = timed("helo-temp.example", "x@temp.example", "451", 2 * T + SLACK, "T + T")
	t.check(t.has(log, "not exempt: no time left within 2 x dns_timeout"), "checks skipped, logged")
end)

t.step("HELO times out, MAIL FROM fails at once: the checks get the rest", function()
	local log, took = timed("helo-temp.example", "x@fail.example", "550", 2 * T + SLACK, "T + 0 + rest")
	t.check(took > 2 * T - 0.3, string.format("the checks waited for the rest (%.2f s)", took))
	t.check(t.has(log, "not exempt: no PTR name in trusted_forwarders confirmed (PTR lookup: timeout)"), "PTR timed out")
end)

t.step("HELO at once, MAIL FROM times out: the checks get dns_timeout", function()
	local log = timed("helo-neutral.example", "x@temp.example", "451", 2 * T + SLACK, "0 + T + T")
	t.check(t.has(log, "temp.example not asked (no time left)") or t.has(log, "temp.example gives temperror"), "the forwarder domain within the same deadline")
end)

t.done()
