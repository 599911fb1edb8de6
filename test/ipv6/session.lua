-- One session from an IPv6 client, for test/run-ipv6-test.sh: connect
-- from $ip (an IPv6 address), HELO, MAIL FROM <user@v6.test> (its SPF
-- record permits 2001:db8::/32), one message; the milter must continue
-- and insert a Received-SPF field saying pass for that client.  Globals
-- from -D: sock, ip.  miltertest prints nothing when a script fails, so
-- the steps run under pcall and the outcome is printed.
local function must(what, err)
	if err ~= nil then
		error(what .. ": " .. tostring(err))
	end
end

local function session()
	mt.set_timeout(10)
	local conn = mt.connect(sock, 20, 0.1)
	if conn == nil then
		error("cannot connect to " .. tostring(sock))
	end
	must("negotiate", mt.negotiate(conn, nil, nil, nil))
	must("conninfo", mt.conninfo(conn, "client.v6.test", ip))
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("connect not continued")
	end
	must("helo", mt.helo(conn, "mx.v6.test"))
	must("mailfrom", mt.mailfrom(conn, "<user@v6.test>"))
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("MAIL FROM not continued")
	end
	if not mt.test_option(conn, SMFIP_NORCPT) then
		must("rcptto", mt.rcptto(conn, "<postmaster@mx.v6.test>"))
	end
	if not mt.test_option(conn, SMFIP_NODATA) then
		must("data", mt.data(conn))
	end
	if not mt.test_option(conn, SMFIP_NOHDRS) then
		must("header", mt.header(conn, "From", "user@v6.test"))
	end
	if not mt.test_option(conn, SMFIP_NOEOH) then
		must("eoh", mt.eoh(conn))
	end
	if not mt.test_option(conn, SMFIP_NOBODY) then
		must("body", mt.bodystring(conn, "hello\r\n"))
	end
	must("eom", mt.eom(conn))
	local v = mt.getheader(conn, "Received-SPF", 0)
	if v == nil then
		error("no Received-SPF field")
	end
	v = string.gsub(v, "\r?\n[ \t]", " ")
	print("Received-SPF: " .. v)
	-- an IPv6 address is quoted: its colons are not token characters
	if string.find(v, "^pass ") == nil or
	    (string.find(v, "client-ip=" .. ip .. ";", 1, true) == nil and
	    string.find(v, 'client-ip="' .. ip .. '";', 1, true) == nil) then
		error("not a pass for " .. ip)
	end
	mt.disconnect(conn)
end

local ok, err = pcall(session)
if not ok then
	print("session: FAILED: " .. tostring(err))
	os.exit(1)
end
print("session: ok")
