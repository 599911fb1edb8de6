#!/usr/bin/perl
# sa-check.pl DIR FILE... - SpamAssassin (Debian's, its own rules) on
# each delivered message FILE, with DIR/local.cf as the site configuration
# in place of /etc/spamassassin.  For each FILE it prints
#     == FILE
#     tests: RULE,RULE,...
# on stdout, and its SPF debug lines ("dbg: spf: ...") on stderr after a
# "== FILE" line of their own.  One process for all files: loading the
# rules takes seconds, checking a message a fraction of one.
use strict;
use warnings;
use Mail::SpamAssassin;

my $dir = shift @ARGV or die "usage: sa-check.pl DIR FILE...\n";
$| = 1;
my $sa = Mail::SpamAssassin->new({
	site_rules_filename => $dir,
	userprefs_filename  => "$dir/user_prefs",
	userstate_dir       => "$dir/state",
	dont_copy_prefs     => 1,
	debug               => 'spf',
});
$sa->init(1);
for my $file (@ARGV) {
	open(my $fh, '<', $file) or die "$file: $!\n";
	my @lines = <$fh>;
	close($fh);
	print "== $file\n";
	print STDERR "== $file\n";
	my $msg = $sa->parse(\@lines);
	my $status = $sa->check($msg);
	print "tests: ", $status->get_names_of_tests_hit(), "\n";
	$status->finish();
	$msg->finish();
}
