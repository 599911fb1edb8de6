#!/usr/bin/perl
# dkim-sign.pl KEYFILE DOMAIN SELECTOR < MESSAGE > SIGNED - a message
# signed with Mail::DKIM (Debian's libmail-dkim-perl), lines ending in
# CRLF, for the consumers test to send through OpenDKIM.
use strict;
use warnings;
use Mail::DKIM::Signer;
use Mail::DKIM::TextWrap;

my ($key, $domain, $selector) = @ARGV;
die "usage: dkim-sign.pl KEYFILE DOMAIN SELECTOR\n" unless defined $selector;
my @lines;
while (my $line = <STDIN>) {
	$line =~ s/\r?\n\z//;
	push @lines, "$line\r\n";
}
my $dkim = Mail::DKIM::Signer->new(
	Algorithm => 'rsa-sha256',
	Method    => 'relaxed',
	Domain    => $domain,
	Selector  => $selector,
	KeyFile   => $key,
	Headers   => 'from:to:subject:date:message-id',
);
$dkim->PRINT($_) for @lines;
$dkim->CLOSE();
my $sig = $dkim->signature()->as_string();
$sig =~ s/\r?\n/\r\n/g;
print $sig, "\r\n", @lines;
