-- hostile.lua: configured reply codes and texts; input the sender
-- controls (HELO, MAIL FROM, exp= text) never breaks a reply, a header
-- field or a log line.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

-- A reply text is safe: printable ASCII, no lone '%', not overlong.
local function safe_reply(r)
	if r == nil or string.find(r, "[^\32-\126]") then
		return false
	end
	for run in string.gmatch(r, "%%+") do
		if #run % 2 == 1 then
			return false
		end
	end
	-- RFC 5321 4.5.3.1.5: 512 octets with CRLF, where "%%" is one
	return #r <= 510
end

-- A header value is safe: printable ASCII, folds only as "\n\t", and
-- every line short of the RFC 5322 limit.
local function safe_header(v)
	if v == nil then
		return false
	end
	local unfolded = string.gsub(v, "\n\t", "")
	if string.find(unfolded, "[^\32-\126]") then
		return false
	end
	for line in string.gmatch(v, "[^\n]+") do
		if #line > 998 then
			return false
		end
	end
	return true
end

local function rejected_with(ip, helo, sender, code, status, text)
	local conn = t.open(ip, helo)
	local r = t.mail(conn, sender)
	t.check(r == SMFIR_REPLYCODE, sender .. ": reply code")
	local ok, got = t.smtpreply(conn, code, status, text)
	t.check(ok, "reply " .. code .. " " .. status .. " " .. tostring(text) .. ", got: " .. tostring(got))
	t.check(safe_reply(got), "reply is clean: " .. tostring(got))
	mt.disconnect(conn)
	return got
end

t.step("configured fail reply, default explanation", function()
	rejected_with("192.0.2.1", "helo-neutral.example", "x@fail.example",
	    "550", "5.7.1", "Go away: 192.0.2.1 is not a permitted sender for fail.example [fail.example] 100%%")
end)

t.step("exp= with CR/LF and control characters is not used", function()
	rejected_with("192.0.2.1", "helo-neutral.example", "x@exp.example",
	    "550", "5.7.1", "Go away: 192.0.2.1 is not a permitted sender for exp.example [exp.example] 100%%")
end)

t.step("exp= carrying the sender's bytes", function()
	rejected_with("192.0.2.1", "helo-neutral.example", "e%vil\"(;)@exp2.example",
	    "550", "5.7.1", "Go away: Sender e%%vil\"(;) at exp2.example is 100%% not welcome [exp2.example] 100%%")
	rejected_with("192.0.2.1", "helo-neutral.example", "a%%%b\r\nX-Injected: yes\1\127\255@exp2.example",
	    "550", "5.7.1")
end)

t.step("overlong sender", function()
	local long = string.rep("a", 900) .. "@exp2.example"
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	local r = t.mail(conn, long)
	t.check(r == SMFIR_REPLYCODE or r == SMFIR_CONTINUE, "overlong sender answered")
	local _, got = t.smtpreply(conn, "550", "5.7.1")
	t.check(safe_reply(got), "reply is clean and capped: " .. tostring(got and #got))
	mt.disconnect(conn)
end)

t.step("configured temperror and permerror replies", function()
	rejected_with("192.0.2.1", "helo-neutral.example", "x@temp.example",
	    "450", "4.4.3", "Try later, temp.example")
	rejected_with("192.0.2.1", "helo-neutral.example", "x@perm.example",
	    "554", "5.7.24")
end)

t.step("hostile HELO names", function()
	local helos = {
		"evil; identity=helo",
		"a\"b\\c(d)e",
		"with spaces and (comment",
		"m\195\188ller.example",
		"cr\r\nX-Injected: yes",
		string.rep("x", 300) .. ".example",
		-- miltertest keeps a changed field in 1024 bytes: longer values
		-- are tested in test_header.c and with Postfix
		string.rep("label.", 80) .. "example",
		"",
	}
	for _, helo in ipairs(helos) do
		local conn = t.open("192.0.2.1", helo)
		local r = t.mail(conn, "a@pass.example")
		t.check(r == SMFIR_CONTINUE, "HELO " .. #helo .. " bytes: continues")
		t.message(conn)
		local rs = t.raw_header(conn, "Received-SPF")
		t.check(safe_header(rs), "Received-SPF clean: " .. tostring(rs))
		-- readers split at any ';' and take the last identity=: no ';'
		-- in a quoted value, ours the last pair
		local u = t.header(conn, "Received-SPF") or ""
		local pairs = string.gsub(string.gsub(u, "^[^)]*%)", ""), "\\.", "")
		local semi = false
		for q in string.gmatch(pairs, '"([^"]*)"') do
			semi = semi or string.find(q, "[;()]") ~= nil
		end
		t.check(string.find(u, "; identity=mailfrom$") ~= nil and not semi,
		    "no key injected through HELO: " .. u)
		local ar = t.raw_header(conn, "Authentication-Results")
		t.check(safe_header(ar), "Authentication-Results clean: " .. tostring(ar))
		mt.disconnect(conn)
	end
end)

t.step("hostile MAIL FROM", function()
	local senders = {
		{ "\"a;b (c)\"@pass.example", 'envelope-from="\\"a?b ?c?\\"@pass.example"' },
		{ "x; identity=helo@pass.example", 'envelope-from="x? identity=helo@pass.example"' },
		{ "m\195\188ller@pass.example", 'envelope-from="m??ller@pass.example"' },
		{ "a\r\nX-Injected: yes@pass.example", 'envelope-from="a??X-Injected: yes@pass.example"' },
		{ string.rep("b", 400) .. "@pass.example", nil },
	}
	for _, s in ipairs(senders) do
		local conn = t.open("192.0.2.1", "helo-neutral.example")
		local r = t.mail(conn, s[1])
		t.check(r == SMFIR_CONTINUE or r == SMFIR_REPLYCODE, "sender " .. #s[1] .. " bytes answered")
		if r == SMFIR_CONTINUE then
			t.message(conn)
			local rs = t.raw_header(conn, "Received-SPF")
			t.check(safe_header(rs), "Received-SPF clean: " .. tostring(rs))
			if s[2] ~= nil then
				t.check(t.has(t.header(conn, "Received-SPF"), s[2]), "quoted: " .. s[2])
			end
			local ar = t.raw_header(conn, "Authentication-Results")
			t.check(safe_header(ar), "Authentication-Results clean: " .. tostring(ar))
			t.check(t.has(t.header(conn, "Authentication-Results"), "spf=pass smtp.mailfrom=pass.example"),
			    "smtp.mailfrom is the domain: " .. tostring(ar))
		end
		mt.disconnect(conn)
	end
end)

t.step("log lines are escaped", function()
	local log = t.log()
	t.check(not string.find(log, "[^\n\32-\126]"), "no control or 8-bit byte in the log")
	t.check(t.has(log, "\\x0d\\x0a"), "CR/LF shown escaped")
end)

t.done()
