-- One milter session for test/run-busybox-test.sh: negotiate, connect
-- from 127.0.0.1, quit.  The socket comes from $MILTER_SOCKET.
-- miltertest prints nothing when a script fails, so every step runs
-- under pcall and the outcome is printed.
local function session()
	local sock = os.getenv("MILTER_SOCKET")
	if sock == nil then
		error("MILTER_SOCKET is not set")
	end
	mt.set_timeout(10)
	local conn = mt.connect(sock, 10, 0.2)
	if conn == nil then
		error("cannot connect to " .. sock)
	end
	local err = mt.negotiate(conn, nil, nil, nil)
	if err ~= nil then
		error("negotiate: " .. tostring(err))
	end
	err = mt.conninfo(conn, "localhost", "127.0.0.1")
	if err ~= nil then
		error("conninfo: " .. tostring(err))
	end
	local r = mt.getreply(conn)
	if r ~= SMFIR_CONTINUE and r ~= SMFIR_ACCEPT then
		error("unexpected reply to connect: " .. tostring(r))
	end
	mt.disconnect(conn)
end

local ok, msg = pcall(session)
if not ok then
	print("session: FAILED: " .. tostring(msg))
	os.exit(1)
end
print("session: ok")
