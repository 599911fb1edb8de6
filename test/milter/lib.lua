-- lib.lua - helpers shared by the miltertest scripts of spf-milter.
--
-- miltertest prints nothing when a script raises an error, so every step
-- goes through pcall and every check prints "ok: ..." or "FAIL: ...";
-- the runner counts the FAIL lines.  Globals given with -D by the runner:
--   sock   the milter's socket, "unix:/tmp/.../milter.sock"
--   pid    the milter's process id (for reload tests)
--   dir    the test's scratch directory
--   srcdir the directory of the scripts

local M = {}
M.failures = 0

function M.check(cond, what)
	if cond then
		print("ok: " .. what)
	else
		print("FAIL: " .. what)
		M.failures = M.failures + 1
	end
end

-- Run F, turning an error into a failure instead of a silent exit.
function M.step(what, f, ...)
	local ok, err = pcall(f, ...)
	if not ok then
		print("FAIL: " .. what .. ": " .. tostring(err))
		M.failures = M.failures + 1
	end
	return ok
end

-- A milter call that must succeed (miltertest returns nil on success).
function M.must(what, err)
	if err ~= nil then
		error(what .. ": " .. tostring(err))
	end
end

-- Connect, negotiate, send the client's address and HELO.
function M.open(ip, helo)
	local conn = mt.connect(sock, 40, 0.05)
	if conn == nil then
		error("cannot connect to " .. tostring(sock))
	end
	M.must("negotiate", mt.negotiate(conn, nil, nil, nil))
	M.must("conninfo", mt.conninfo(conn, "client.example", ip))
	if helo ~= nil then
		M.must("helo", mt.helo(conn, helo))
	end
	return conn
end

-- MAIL FROM, with optional macros for it; returns the milter's reply.
function M.mail(conn, sender, macros)
	if macros ~= nil then
		for k, v in pairs(macros) do
			M.must("macro " .. k, mt.macro(conn, SMFIC_MAIL, k, v))
		end
	end
	M.must("mailfrom", mt.mailfrom(conn, "<" .. sender .. ">"))
	return mt.getreply(conn)
end

-- The rest of one message: recipient, headers (a list of {name, value}),
-- body, end of message.  Returns the reply at end of message.
-- Steps the milter negotiated away are not sent (miltertest refuses them).
function M.message(conn, headers)
	if not mt.test_option(conn, SMFIP_NORCPT) then
		M.must("rcptto", mt.rcptto(conn, "<user@test.example>"))
	end
	return M.data(conn, headers)
end

-- From DATA on: headers (a list of {name, value}), body, end of
-- message, for a caller that sent its own recipients.  Returns the
-- reply at end of message.
function M.data(conn, headers)
	if not mt.test_option(conn, SMFIP_NODATA) then
		M.must("data", mt.data(conn))
	end
	if not mt.test_option(conn, SMFIP_NOHDRS) then
		for _, h in ipairs(headers or {}) do
			M.must("header " .. h[1], mt.header(conn, h[1], h[2]))
		end
		M.must("header From", mt.header(conn, "From", "a@example.net"))
	end
	if not mt.test_option(conn, SMFIP_NOEOH) then
		M.must("eoh", mt.eoh(conn))
	end
	if not mt.test_option(conn, SMFIP_NOBODY) then
		M.must("body", mt.bodystring(conn, "hello\r\n"))
	end
	M.must("eom", mt.eom(conn))
	return mt.getreply(conn)
end

-- The value of the Nth (default 0th: the first) header field NAME
-- inserted at EOM, unfolded, or nil.
function M.header(conn, name, n)
	local v = mt.getheader(conn, name, n or 0)
	if v == nil then
		return nil
	end
	return (string.gsub(v, "\r?\n[ \t]", " "))
end

-- The same, as the milter folded it.
function M.raw_header(conn, name, n)
	return mt.getheader(conn, name, n or 0)
end

-- Does VALUE contain PLAIN (no patterns)?
function M.has(value, plain)
	return value ~= nil and string.find(value, plain, 1, true) ~= nil
end

function M.reject(r)
	return r == SMFIR_REPLYCODE or r == SMFIR_REJECT
end

function M.tempfail(r)
	return r == SMFIR_REPLYCODE or r == SMFIR_TEMPFAIL
end

-- The whole of file PATH, or "" when there is none.
function M.slurp(path)
	local f = io.open(path, "rb")
	if f == nil then
		return ""
	end
	local s = f:read("*a")
	f:close()
	return s
end

-- The milter's log so far (its stderr, which the runner keeps in a file).
function M.log()
	return M.slurp(dir .. "/milter.log")
end

-- Lines of the log that were added since MARK (a length of M.log()).
function M.log_since(mark)
	return string.sub(M.log(), mark + 1)
end

-- The last SMTP reply the milter set, as it logs it:
-- "reply CODE STATUS TEXT", or "reply (a value shortened to fit) CODE
-- STATUS TEXT" (miltertest shows reply texts only at EOM).
function M.last_reply()
	local last
	for line in string.gmatch(M.log(), "[^\n]+") do
		local r = string.match(line, " reply (%d%d%d .*)$") or
		    string.match(line, " reply %(a value shortened to fit%) (%d%d%d .*)$")
		if r ~= nil then
			-- the log escapes '"' and '\\' as \xHH; undo that
			last = string.gsub(r, "\\x(%x%x)", function(h)
				return string.char(tonumber(h, 16))
			end)
		end
	end
	return last
end

-- Did the last reply start with CODE STATUS (and equal TEXT when given)?
function M.smtpreply(conn, code, status, text)
	local r = M.last_reply()
	local want = code .. " " .. status
	if text ~= nil then
		return r == want .. " " .. text, r
	end
	return r ~= nil and string.sub(r, 1, #want + 1) == want .. " ", r
end

function M.done()
	if M.failures > 0 then
		print(M.failures .. " failure(s)")
	else
		print("all passed")
	end
end

return M
