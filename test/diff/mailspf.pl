#!/usr/bin/perl
# mailspf.pl - Mail::SPF as spfquery(1) runs it (the same Server and
# Request, spfquery's defaults), one question a line on stdin:
#   IP IDENTITY HELO
# and one answer a line on stdout: RESULT TAB EXPLANATION TAB WHY (the
# authority explanation of a fail, else empty; the local explanation,
# which says what went wrong).  spfquery -f - stops at the first
# question that makes Mail::SPF or Net::DNS die; here such a question
# answers "crash" and the others go on.  Net::DNS takes the server from
# RES_NAMESERVERS and RES_OPTIONS (port:N).
use strict;
use warnings;
use Mail::SPF;

my $hostname = shift @ARGV or die "usage: mailspf.pl HOSTNAME\n";
my $server = Mail::SPF::Server->new(hostname => $hostname);
$| = 1;
while (my $line = <STDIN>) {
	chomp $line;
	my ($ip, $identity, $helo) = split ' ', $line;
	my ($code, $exp, $why) = ('crash', '', '');
	eval {
		my $request = Mail::SPF::Request->new(
		    scope => 'mfrom', identity => $identity,
		    ip_address => $ip, helo_identity => $helo);
		my $result = $server->process($request);
		$code = $result->code;
		$exp = $result->authority_explanation
		    if $code eq 'fail' and $result->can('authority_explanation');
		$why = $result->local_explanation;
		1;
	} or do {
		my $err = "$@";
		$err =~ s/\s+/ /g;
		$code = 'crash';
		$why = substr($err, 0, 200);
	};
	for ($exp, $why) {
		$_ = '' unless defined $_;
		s/[\t\n]/ /g;
	}
	print "$code\t$exp\t$why\n";
}
