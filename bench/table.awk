# bench/table.awk - turns the key=value lines bench/run.sh collects (one
# per run: mload's line plus RSS and CPU figures) into the benchmark table
# and the ratios of issue 5's targets.  A configuration run several times
# is shown by its median run (by tx/s), with the range of tx/s over all
# its runs and the highest RSS peak.  Exit status 1 when any run had
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

# Each run as run number j of its configuration k.
{
	k = v("label") "/" v("transport") "/" v("conc")
	if (!(k in runs))
		keys[++n] = k
	j = ++runs[k]
	T[k, j] = v("txps") + 0
	P50[k, j] = v("p50_ms") + 0
	P99[k, j] = v("p99_ms") + 0
	TX[k, j] = v("tx") + 0
	IDLE[k, j] = v("rss_idle_kb") + 0
	PEAK[k, j] = v("rss_peak_kb") + 0
	CPU[k, j] = TX[k, j] > 0 && v("tick") > 0 ? v("cpu_ticks") / v("tick") / TX[k, j] * 1000 : 0
	REJ[k, j] = v("reject") + 0
	DNSQ[k, j] = TX[k, j] > 0 ? v("dns_queries") / TX[k, j] : 0
	e = v("errors") + 0
	err[k] += e
	if (e > 0)
		bad++
}

# The median run of K by tx/s; also sets lo[k], hi[k], peak[k].
function pick(k,    i, j, t, idx, m) {
	for (i = 1; i <= runs[k]; i++)
		idx[i] = i
	for (i = 2; i <= runs[k]; i++)
		for (j = i; j > 1 && T[k, idx[j - 1]] > T[k, idx[j]]; j--) {
			t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t
		}
	m = idx[int((runs[k] + 1) / 2)]
	lo[k] = T[k, idx[1]]
	hi[k] = T[k, idx[runs[k]]]
	peak[k] = 0
	for (i = 1; i <= runs[k]; i++)
		if (PEAK[k, i] > peak[k])
			peak[k] = PEAK[k, i]
	txps[k] = T[k, m]; p50[k] = P50[k, m]; p99[k] = P99[k, m]
	idle[k] = IDLE[k, m]; cpu[k] = CPU[k, m]; rej[k] = REJ[k, m]
	dnsq[k] = DNSQ[k, m]
}

END {
	for (i = 1; i <= n; i++)
		pick(keys[i])
	printf "\n%-19s %-4s %4s %6s %13s %7s %7s %8s %8s %8s %6s %6s %4s\n",
	    "milter", "sock", "conc", "tx/s", "(range, runs)", "p50 ms", "p99 ms",
	    "cpu s/1k", "RSS idle", "RSS peak", "dns/tx", "reject", "errs"
	for (i = 1; i <= n; i++) {
		k = keys[i]
		split(k, part, "/")
		printf "%-19s %-4s %4s %6.0f %13s %7.2f %7.2f %8.3f %6.2fMi %6.2fMi %6.2f %6d %4d\n",
		    part[1], part[2], part[3], txps[k],
		    sprintf("%.0f-%.0f, %d", lo[k], hi[k], runs[k]), p50[k],
		    p99[k], cpu[k], mib(idle[k]), mib(peak[k]), dnsq[k], rej[k],
		    err[k]
	}
	printf "\nstripped static binaries: spf-milter %d bytes (%.2f MiB), noop-milter %d bytes\n",
	    size_spf, size_spf / 1048576, size_noop

	s = "spf-milter/unix/32"; o = "noop/unix/32"; p = "pyspf/unix/32"
	printf "\ntargets (issue 5), from this run:\n"
	target("c32 unix tx/s: spf-milter / noop-milter", ratio(txps[s], txps[o]), ">=", 0.85, "", "%8.2f")
	target("c32 unix tx/s: spf-milter / pyspf-milter", ratio(txps[s], txps[p]), ">=", 5, "", "%8.2f")
	target("CPU per 1000 tx (c32 unix): spf-milter / noop", ratio(cpu[s], cpu[o]), "<=", 1.3, "", "%8.2f")
	target("c32 tx/s: spf-milter TCP / unix", ratio(txps["spf-milter/tcp/32"], txps[s]), ">=", 0.9, "", "%8.2f")
	printf "  %-52s %8.2f (the same ratio for noop-milter)\n", "",
	    ratio(txps["noop/tcp/32"], txps[o])
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
