-- core.lua: the HELO -> MAIL FROM procedure with the default policy:
-- every result, definitive and non-definitive HELO, null sender, IP-literal
-- HELO, IPv6 client, several messages on one connection, forged
-- Authentication-Results.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

-- One message from IP/HELO/SENDER; checks the reply at MAIL FROM.
local function accepted(ip, helo, sender)
	local conn = t.open(ip, helo)
	local r = t.mail(conn, sender)
	t.check(r == SMFIR_CONTINUE, sender .. " from " .. ip .. " continues")
	t.message(conn)
	return conn
end

t.step("pass", function()
	local conn = accepted("192.0.2.1", "helo-neutral.example", "a@pass.example")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "pass (mx.test.example: domain of a@pass.example designates 192.0.2.1 as permitted sender)"), "Received-SPF comment: " .. tostring(rs))
	t.check(t.has(rs, "receiver=mx.test.example;"), "receiver")
	t.check(t.has(rs, "client-ip=192.0.2.1;"), "client-ip")
	t.check(t.has(rs, 'envelope-from="a@pass.example";'), "envelope-from")
	t.check(t.has(rs, "helo=helo-neutral.example;"), "helo")
	t.check(string.find(rs or "", "; identity=mailfrom$") ~= nil, "identity, the last pair")
	t.check(t.has(rs, "mechanism="), "mechanism")
	local ar = t.header(conn, "Authentication-Results")
	t.check(ar ~= nil and string.find(ar, "^mx.test.example;%s+spf=pass%s+smtp.mailfrom=pass.example$") ~= nil, "Authentication-Results: " .. tostring(ar))
	mt.disconnect(conn)
end)

t.step("fail rejected", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	local r = t.mail(conn, "x@fail.example")
	t.check(r == SMFIR_REPLYCODE, "fail: reply code")
	t.check(t.smtpreply(conn, "550", "5.7.23"), "fail: 550 5.7.23")
	mt.disconnect(conn)
end)

t.step("softfail accepted", function()
	local conn = accepted("192.0.2.1", "helo-neutral.example", "x@softfail.example")
	t.check(t.has(t.header(conn, "Received-SPF"), "softfail (mx.test.example: domain of transitioning x@softfail.example"), "softfail header")
	t.check(t.has(t.header(conn, "Authentication-Results"), "spf=softfail smtp.mailfrom=softfail.example"), "softfail A-R")
	mt.disconnect(conn)
end)

t.step("neutral and none accepted", function()
	local conn = accepted("192.0.2.1", "helo-neutral.example", "x@neutral.example")
	t.check(t.has(t.header(conn, "Received-SPF"), "neutral ("), "neutral header")
	mt.disconnect(conn)
	conn = accepted("192.0.2.1", "helo-neutral.example", "x@none.example")
	t.check(t.has(t.header(conn, "Received-SPF"), "none ("), "none header")
	t.check(t.has(t.header(conn, "Authentication-Results"), "spf=none"), "none A-R")
	mt.disconnect(conn)
end)

t.step("temperror tempfails", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	local r = t.mail(conn, "x@temp.example")
	t.check(r == SMFIR_REPLYCODE, "temperror: reply code")
	t.check(t.smtpreply(conn, "451", "4.7.24"), "temperror: 451 4.7.24")
	mt.disconnect(conn)
end)

t.step("permerror rejected", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	local r = t.mail(conn, "x@perm.example")
	t.check(r == SMFIR_REPLYCODE, "permerror: reply code")
	t.check(t.smtpreply(conn, "550", "5.7.24"), "permerror: 550 5.7.24")
	mt.disconnect(conn)
end)

t.step("definitive HELO pass", function()
	-- MAIL FROM would fail; the HELO pass is definitive, so it is not asked.
	local conn = accepted("192.0.2.1", "helo-pass.example", "x@fail.example")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "pass (") and t.has(rs, "identity=helo"), "HELO pass recorded: " .. tostring(rs))
	t.check(t.has(t.header(conn, "Authentication-Results"), "spf=pass smtp.helo=helo-pass.example"), "A-R smtp.helo")
	mt.disconnect(conn)
end)

t.step("definitive HELO fail rejected", function()
	local conn = t.open("192.0.2.1", "helo-fail.example")
	local r = t.mail(conn, "a@pass.example")
	t.check(r == SMFIR_REPLYCODE, "HELO fail rejects at MAIL FROM")
	t.check(t.smtpreply(conn, "550", "5.7.23"), "HELO fail: 550 5.7.23")
	mt.disconnect(conn)
end)

t.step("non-definitive HELO", function()
	-- helo-softfail gives softfail: not definitive, MAIL FROM decides.
	local conn = accepted("192.0.2.1", "helo-softfail.example", "a@pass.example")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "pass (") and t.has(rs, "identity=mailfrom"), "MAIL FROM result recorded")
	t.check(t.header(conn, "Received-SPF", 1) == nil, "only one Received-SPF without include_all_results")
	mt.disconnect(conn)
end)

t.step("null sender", function()
	local conn = accepted("192.0.2.1", "neutral.example", "")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, 'envelope-from="postmaster@neutral.example"'), "null sender is postmaster@HELO: " .. tostring(rs))
	t.check(t.has(t.header(conn, "Authentication-Results"), "smtp.mailfrom=neutral.example"), "A-R of null sender: the HELO domain")
	mt.disconnect(conn)
end)

t.step("IP-literal HELO", function()
	local conn = accepted("192.0.2.1", "[192.0.2.1]", "a@pass.example")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "pass (") and t.has(rs, 'helo="[192.0.2.1]"'), "IP-literal HELO gives none, MAIL FROM decides: " .. tostring(rs))
	mt.disconnect(conn)
end)

t.step("IPv6 client", function()
	local conn = accepted("2001:db8::1", "helo-neutral.example", "a@pass.example")
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "pass (") and t.has(rs, 'client-ip="2001:db8::1"'), "IPv6 pass: " .. tostring(rs))
	mt.disconnect(conn)
	conn = t.open("2001:db8::2", "helo-neutral.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_REPLYCODE, "other IPv6 address fails")
	mt.disconnect(conn)
end)

t.step("trusted network", function()
	-- accepted at MAIL FROM: the milter asks for nothing more, adds nothing
	local conn = t.open("198.51.100.7", "helo-fail.example")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_ACCEPT, "trusted client: accepted")
	mt.disconnect(conn)
end)

t.step("several messages on one connection", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "msg 1 continues")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "pass ("), "msg 1 pass")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_REPLYCODE, "msg 2 rejected")
	t.check(t.mail(conn, "x@softfail.example") == SMFIR_CONTINUE, "msg 3 continues")
	t.message(conn)
	local rs = t.header(conn, "Received-SPF")
	t.check(t.has(rs, "softfail (") and not t.has(rs, "pass.example"), "msg 3 has its own result: " .. tostring(rs))
	mt.abort(conn)
	t.check(t.mail(conn, "b@pass.example") == SMFIR_CONTINUE, "msg 4 after abort continues")
	t.message(conn)
	t.check(t.has(t.header(conn, "Received-SPF"), "b@pass.example"), "msg 4 result")
	mt.disconnect(conn)
end)

t.step("forged Authentication-Results", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "continues")
	t.message(conn, {
		{ "Authentication-Results", "mx.test.example; spf=pass smtp.mailfrom=forged@example.com" },
		{ "Authentication-Results", "other.example; spf=fail smtp.mailfrom=x@other.example" },
		{ "Authentication-Results", "(c) \"MX.Test.Example\"; dkim=pass" },
	})
	t.check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"), "forged field deleted")
	mt.disconnect(conn)
	conn = t.open("192.0.2.1", "helo-neutral.example")
	t.mail(conn, "a@pass.example")
	t.message(conn, { { "Authentication-Results", "other.example; spf=fail" } })
	t.check(not mt.eom_check(conn, MT_HDRDELETE), "another server's field stays")
	mt.disconnect(conn)
end)

t.step("incoming Received-SPF", function()
	local mark = #t.log()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "x@softfail.example") == SMFIR_CONTINUE, "continues")
	t.message(conn, {
		{ "Received-SPF", "pass (forged) receiver=x; envelope-from=\"x@softfail.example\"; identity=mailfrom" },
		{ "Authentication-Results", "other.example; spf=none" },
		{ "received-spf", "pass (lower case) identity=mailfrom" },
	})
	t.check(mt.eom_check(conn, MT_HDRDELETE, "Received-SPF"), "incoming Received-SPF deleted")
	t.check(not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"), "another server's A-R stays")
	t.check(t.has(t.header(conn, "Received-SPF"), "softfail ("), "ours inserted: " .. tostring(t.header(conn, "Received-SPF")))
	local log = t.log_since(mark)
	t.check(t.has(log, 'incoming Received-SPF #1 to be deleted: pass (forged) receiver=x; envelope-from=\\x22x@softfail.example\\x22; identity=mailfrom'), "its value logged")
	t.check(t.has(log, "incoming Received-SPF #2 to be deleted: pass (lower case)"), "any case")
	t.check(t.has(log, "deleted incoming Received-SPF #2") and t.has(log, "deleted incoming Received-SPF #1"), "deletions logged")
	mt.disconnect(conn)
end)

t.step("many forged Authentication-Results", function()
	local hdrs = {}
	for i = 1, 300 do
		hdrs[#hdrs + 1] = { "Authentication-Results", "mx.test.example; spf=pass smtp.mailfrom=f" .. i .. "@example.com" }
	end
	hdrs[#hdrs + 1] = { "Authentication-Results", "other.example; spf=pass" }
	local mark = #t.log()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.mail(conn, "a@pass.example")
	t.message(conn, hdrs)
	local _, n = string.gsub(t.log_since(mark), "deleted forged Authentication%-Results #", "")
	t.check(n == 300, "all 300 deleted (" .. n .. ")")
	t.check(t.has(t.log_since(mark), "Authentication-Results #300"), "the last one too")
	mt.disconnect(conn)
end)

-- libmilter's sessions run on threads that wait for the next session
-- (milter-threads.c): 20 sessions one after the other are served by a
-- few threads, not by 20 new ones.  The threads are read while each
-- session is open, when its thread is alive whatever the model.
t.step("a session's thread serves the next", function()
	local seen, new = {}, 0
	local function tasks(count)
		local p = io.popen("ls /proc/" .. pid .. "/task")
		for tid in p:lines() do
			if count and not seen[tid] then
				new = new + 1
			end
			seen[tid] = true
		end
		p:close()
	end
	tasks(false)
	for _ = 1, 20 do
		local conn = t.open("192.0.2.1", "helo-neutral.example")
		t.mail(conn, "a@pass.example")
		tasks(true)
		mt.disconnect(conn)
		mt.sleep(0.1)	-- the thread goes back to wait
	end
	t.check(new <= 5, "20 sessions on " .. new .. " new thread(s)")
end)

t.done()
