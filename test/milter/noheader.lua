-- noheader.lua: header empty; definitive_helo_results and
-- reject_helo_results on their own.
package.path = srcdir .. "/?.lua;" .. package.path
local t = require("lib")
mt.set_timeout(15)

t.step("no header fields", function()
	local conn = t.open("192.0.2.1", "helo-neutral.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "continues")
	t.message(conn, {
		{ "Authentication-Results", "mx.test.example; spf=pass" },
		{ "Received-SPF", "pass (forged) identity=mailfrom" },
	})
	t.check(not mt.eom_check(conn, MT_HDRINSERT) and not mt.eom_check(conn, MT_HDRADD), "no field added")
	t.check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"), "forged field still deleted")
	t.check(mt.eom_check(conn, MT_HDRDELETE, "Received-SPF"), "incoming Received-SPF still deleted")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_REPLYCODE, "fail still refused")
	mt.disconnect(conn)
end)

t.step("HELO sets", function()
	-- HELO fail is neither definitive nor refused here: MAIL FROM decides
	local conn = t.open("192.0.2.1", "helo-fail.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "HELO fail not refused")
	mt.disconnect(conn)
	conn = t.open("192.0.2.1", "helo-temp.example")
	t.check(t.mail(conn, "a@pass.example") == SMFIR_REPLYCODE, "HELO temperror refused")
	t.check(t.smtpreply(conn, "451", "4.7.24"), "451 4.7.24")
	mt.disconnect(conn)
	-- the HELO result is cached per connection and name
	conn = t.open("192.0.2.1", "helo-pass.example")
	local mark = #t.log()
	t.check(t.mail(conn, "x@fail.example") == SMFIR_CONTINUE, "HELO pass definitive")
	t.check(t.mail(conn, "y@fail.example") == SMFIR_CONTINUE, "second message too")
	t.must("helo", mt.helo(conn, "helo-fail.example"))
	t.check(t.mail(conn, "a@pass.example") == SMFIR_CONTINUE, "new HELO verified anew, MAIL FROM pass")
	t.check(t.mail(conn, "x@fail.example") == SMFIR_REPLYCODE, "new HELO not definitive: MAIL FROM fail refused")
	mt.disconnect(conn)
	local log = t.log_since(mark)
	local _, fresh = string.gsub(log, 'identity=helo helo="helo%-pass.example"', "")
	local _, cached = string.gsub(log, "HELO result taken from the cache", "")
	t.check(fresh == 2 and cached == 2, "each HELO verified once, then cached (" .. fresh .. ", " .. cached .. ")")
end)

t.done()
