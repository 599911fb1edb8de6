-- reload.lua: SIGUSR1 re-reads the file; a valid file takes effect for new
-- connections while open ones keep their snapshot; an invalid file is
-- reported with FILE:LINE and the old configuration stays; reloads in the
-- middle of traffic lose nothing.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

local path = dir .. "/milter.conf"
local f = io.open(path, "r")
local original = f:read("*a")
f:close()

local function write_conf(text)
	local out = io.open(path .. ".tmp", "w")
	out:write(text)
	out:close()
	os.rename(path .. ".tmp", path)
end

-- Send SIGUSR1 and wait (at most 5 s) until the log shows every one of
-- the strings given: a failed reload logs its heading before its errors,
-- so waiting for the heading alone would read the log too early under
-- valgrind.
local function reload(...)
	local want = { ... }
	local mark = #t.log()
	os.execute("kill -USR1 " .. pid)
	for _ = 1, 50 do
		local since = t.log_since(mark)
		local all = true
		for _, what in ipairs(want) do
			all = all and t.has(since, what)
		end
		if all then
			return true
		end
		mt.sleep(0.1)
	end
	return false
end

local function one_message(conn, sender)
	t.check(t.mail(conn, sender or "a@pass.example") == SMFIR_CONTINUE, "continues")
	t.message(conn)
end

local early

t.step("before reload", function()
	early = t.open("192.0.2.1", "helo-neutral.example")
	one_message(early)
	t.check(t.header(early, "Received-SPF") ~= nil, "Received-SPF from the first file")
	t.check(t.header(early, "Authentication-Results") == nil, "no Authentication-Results yet")
end)

local ar_conf = string.gsub(original, "header = Received%-SPF",
    "header = Authentication-Results\nauthserv_id = reloaded.example")

t.step("valid reload", function()
	write_conf(ar_conf)
	t.check(reload("configuration reloaded"), "reload logged")
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	one_message(conn)
	t.check(t.header(conn, "Received-SPF") == nil, "new connection: no Received-SPF")
	t.check(t.has(t.header(conn, "Authentication-Results"), "reloaded.example; spf=pass"), "new connection: new authserv-id")
	mt.disconnect(conn)
	-- the connection opened before keeps its snapshot
	one_message(early)
	t.check(t.header(early, "Received-SPF") ~= nil, "old connection keeps the old configuration")
	t.check(t.header(early, "Authentication-Results") == nil, "old connection: no Authentication-Results")
	mt.disconnect(early)
end)

t.step("invalid reload", function()
	write_conf(ar_conf .. "no equals sign here\nverify_helo = perhaps\n")
	t.check(reload("the old configuration stays", "milter.conf:11:",
	    "milter.conf:12:"), "failure logged with both errors as FILE:LINE")
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	one_message(conn)
	t.check(t.has(t.header(conn, "Authentication-Results"), "reloaded.example;"), "old configuration still in effect")
	mt.disconnect(conn)
end)

t.step("socket change needs a restart", function()
	write_conf(string.gsub(ar_conf, "milter%.sock", "other.sock"))
	t.check(reload("restart"), "restart warning logged")
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	one_message(conn)
	mt.disconnect(conn)
end)

-- Resolvers are kept between connections: after a reload that changes
-- dns_servers, a new connection asks the new servers, never an idle
-- resolver of the old configuration (names not asked before, so the
-- answer cache, which outlives reloads, has none of them).
t.step("DNS servers change with a reload", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	one_message(conn)	-- an idle resolver of this configuration
	mt.disconnect(conn)
	local dead = string.gsub(original, "dns_servers = [^\n]*",
	    "dns_servers = 127.0.0.1:9")
	write_conf(dead)
	t.check(reload("configuration reloaded"), "reload to a dead server logged")
	local mark = #t.log()
	conn = t.open("192.0.2.1", "helo-neutral.example")
	t.mail(conn, "a@softfail.example")
	mt.disconnect(conn)
	t.check(t.has(t.log_since(mark), "result=temperror"),
	    "the new server (none at port 9) is asked: temperror")
	write_conf(original)
	t.check(reload("configuration reloaded"), "reload back logged")
	conn = t.open("192.0.2.1", "helo-neutral.example")
	one_message(conn, "a@neutral.example")
	t.check(t.has(t.header(conn, "Received-SPF"), "neutral"), "the working server again: neutral")
	mt.disconnect(conn)
end)

t.step("reload during traffic", function()
	local confs = { original, ar_conf }
	local conns = {}
	for i = 1, 4 do
		conns[i] = t.open("192.0.2.1", "helo-neutral.example")
	end
	for round = 1, 10 do
		write_conf(confs[round % 2 + 1])
		os.execute("kill -USR1 " .. pid)
		for i = 1, 4 do
			one_message(conns[i], "r" .. round .. "@pass.example")
			local ok = t.header(conns[i], "Received-SPF") ~= nil or
			    t.header(conns[i], "Authentication-Results") ~= nil
			t.check(ok, "round " .. round .. " conn " .. i .. ": a header")
		end
		local c = t.open("192.0.2.1", "helo-neutral.example")
		one_message(c, "n" .. round .. "@pass.example")
		mt.disconnect(c)
	end
	for i = 1, 4 do
		mt.disconnect(conns[i])
	end
	-- A signal of the storm may still be handled late; the file written
	-- last is what any later reload reads, so a new connection proves the
	-- last reload took effect.
	write_conf(string.gsub(ar_conf, "reloaded%.example", "after-storm.example"))
	t.check(reload("configuration reloaded"), "still reloading after the storm")
	local c = t.open("192.0.2.1", "helo-neutral.example")
	one_message(c)
	t.check(t.has(t.header(c, "Authentication-Results"), "after-storm.example; spf=pass"),
	    "the file written after the storm is in effect")
	mt.disconnect(c)
end)

t.done()
