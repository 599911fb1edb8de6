# bench/table.awk - turns the key=value lines bench/run.sh collects (one
# per run: mload's line plus RSS and CPU figures) into the benchmark table
# and the ratios of issue 5's targets.  Exit status 1 when any run had
# errors (wrong answers, I/O or protocol errors): such figures mean nothing.
#
# Variables: size_spf, size_noop (stripped binary sizes in bytes).

function v(key,    i, kv) {
	for (i = 1; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == key)
			return substr($i, length(key) + 2)
	}
	return ""
}

function mib(kb) { return kb / 1024 }

function ratio(a, b) { return b > 0 ? a / b : 0 }

function target(what, val, op, goal, unit, fmt,    ok) {
	ok = (op == ">=") ? val >= goal : val <= goal
	if (val == 0 && op == ">=")
		ok = 0
	printf "  %-52s " fmt " %s %-3s %-5s %s\n", what, val, op, goal, unit,
	    ok ? "met" : "MISSED"
	if (!ok)
		missed++
}

{
	k = v("label") "/" v("transport") "/" v("conc")
	keys[++n] = k
	txps[k] = v("txps") + 0
	p50[k] = v("p50_ms") + 0
	p99[k] = v("p99_ms") + 0
	tx[k] = v("tx") + 0
	err[k] = v("errors") + 0
	idle[k] = v("rss_idle_kb") + 0
	peak[k] = v("rss_peak_kb") + 0
	cpu[k] = tx[k] > 0 && v("tick") > 0 ? v("cpu_ticks") / v("tick") / tx[k] * 1000 : 0
	rej[k] = v("reject") + 0
	dnsq[k] = tx[k] > 0 ? v("dns_queries") / tx[k] : 0
	if (err[k] > 0)
		bad++
}

END {
	printf "\n%-20s %-5s %4s %8s %8s %8s %9s %9s %9s %6s %6s %6s\n",
	    "milter", "sock", "conc", "tx/s", "p50 ms", "p99 ms",
	    "cpu s/1k", "RSS idle", "RSS peak", "dns/tx", "reject", "errors"
	for (i = 1; i <= n; i++) {
		k = keys[i]
		split(k, part, "/")
		printf "%-20s %-5s %4s %8.0f %8.2f %8.2f %9.3f %7.2fMi %7.2fMi %6.2f %6d %6d\n",
		    part[1], part[2], part[3], txps[k], p50[k], p99[k], cpu[k],
		    mib(idle[k]), mib(peak[k]), dnsq[k], rej[k], err[k]
	}
	printf "\nstripped static binaries: spf-milter %d bytes (%.2f MiB), noop-milter %d bytes\n",
	    size_spf, size_spf / 1048576, size_noop

	s = "spf-milter/unix/32"; o = "noop/unix/32"; p = "pyspf/unix/32"
	printf "\ntargets (issue 5), from this run:\n"
	target("c32 unix tx/s: spf-milter / noop-milter", ratio(txps[s], txps[o]), ">=", 0.85, "", "%8.2f")
	target("c32 unix tx/s: spf-milter / pyspf-milter", ratio(txps[s], txps[p]), ">=", 5, "", "%8.2f")
	target("CPU per 1000 tx (c32 unix): spf-milter / noop", ratio(cpu[s], cpu[o]), "<=", 1.3, "", "%8.2f")
	target("c32 tx/s: spf-milter TCP / unix", ratio(txps["spf-milter/tcp/32"], txps[s]), ">=", 0.9, "", "%8.2f")
	target("stripped static binary (MB = 10^6 bytes)", size_spf / 1e6, "<=", 1.2, "MB", "%8.2f")
	target("RSS idle (spf-milter, c32 unix run)", mib(idle[s]), "<=", 1.5, "MiB", "%8.2f")
	target("RSS peak at c32 (spf-milter, unix)", mib(peak[s]), "<=", 4, "MiB", "%8.2f")
	target("20 ms DNS, no cache: p99 c32 / p50 c1",
	    ratio(p99["spf-milter-slowdns/unix/32"], p50["spf-milter-slowdns/unix/1"]),
	    "<=", 1.5, "", "%8.2f")
	printf "  (%d of 8 targets missed; for reference, 20 ms DNS p99 c32 / p99 c1: %.2f)\n",
	    missed, ratio(p99["spf-milter-slowdns/unix/32"], p99["spf-milter-slowdns/unix/1"])
	if (bad > 0) {
		printf "\nbench: %d run(s) had errors: their figures do not count\n", bad
		exit 1
	}
	exit 0
}
