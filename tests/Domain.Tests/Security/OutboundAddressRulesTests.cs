using System.Net;
using EventProfiles.Domain.Security;

namespace EventProfiles.Domain.Tests.Security;

public class OutboundAddressRulesTests
{
    private static string? RefusalOfHost(string host) =>
        OutboundAddressRules.TryParseLiteral(host, out var address) ? OutboundAddressRules.Refusal(address) : throw new ArgumentException($"{host} is not a literal");

    [Theory]
    // cloud metadata, every way resolvers read it
    [InlineData("169.254.169.254", "link-local (cloud metadata)")]
    [InlineData("2852039166", "link-local (cloud metadata)")]
    [InlineData("0xA9FEA9FE", "link-local (cloud metadata)")]
    [InlineData("0xa9fea9fe", "link-local (cloud metadata)")]
    [InlineData("0251.0376.0251.0376", "link-local (cloud metadata)")]
    [InlineData("025177524776", "link-local (cloud metadata)")]
    [InlineData("0xA9.0xFE.0xA9.0xFE", "link-local (cloud metadata)")]
    [InlineData("169.254.43518", "link-local (cloud metadata)")]
    [InlineData("169.16689662", "link-local (cloud metadata)")]
    [InlineData("169.254.169.254.", "link-local (cloud metadata)")]
    [InlineData("[::ffff:169.254.169.254]", "an IPv4-mapped form of 169.254.169.254, link-local (cloud metadata)")]
    [InlineData("::ffff:a9fe:a9fe", "an IPv4-mapped form of 169.254.169.254, link-local (cloud metadata)")]
    [InlineData("64:ff9b::169.254.169.254", "a NAT64 form of 169.254.169.254, link-local (cloud metadata)")]
    [InlineData("2002:a9fe:a9fe::1", "a 6to4 form of 169.254.169.254, link-local (cloud metadata)")]
    [InlineData("169.254.1.1", "link-local (169.254.0.0/16)")]
    // loopback
    [InlineData("127.0.0.1", "loopback (127.0.0.0/8)")]
    [InlineData("127.1", "loopback (127.0.0.0/8)")]
    [InlineData("127.0.0.2", "loopback (127.0.0.0/8)")]
    [InlineData("2130706433", "loopback (127.0.0.0/8)")]
    [InlineData("0x7f000001", "loopback (127.0.0.0/8)")]
    [InlineData("017700000001", "loopback (127.0.0.0/8)")]
    [InlineData("0x7f.1", "loopback (127.0.0.0/8)")]
    [InlineData("::1", "loopback (::1)")]
    [InlineData("[::1]", "loopback (::1)")]
    [InlineData("[0:0:0:0:0:0:0:1]", "loopback (::1)")]
    [InlineData("::ffff:127.0.0.1", "an IPv4-mapped form of 127.0.0.1, loopback (127.0.0.0/8)")]
    // unspecified, private, shared, reserved, multicast, broadcast
    [InlineData("0.0.0.0", "unspecified (0.0.0.0/8)")]
    [InlineData("0", "unspecified (0.0.0.0/8)")]
    [InlineData("::", "unspecified (::)")]
    [InlineData("10.1.2.3", "private (10.0.0.0/8)")]
    [InlineData("167772161", "private (10.0.0.0/8)")]
    [InlineData("012.1", "private (10.0.0.0/8)")]
    [InlineData("172.16.0.1", "private (172.16.0.0/12)")]
    [InlineData("172.31.255.255", "private (172.16.0.0/12)")]
    [InlineData("192.168.1.1", "private (192.168.0.0/16)")]
    [InlineData("0xc0a80101", "private (192.168.0.0/16)")]
    [InlineData("100.64.0.1", "shared address space (100.64.0.0/10, carrier-grade NAT)")]
    [InlineData("100.100.100.200", "shared address space (100.64.0.0/10, carrier-grade NAT)")]
    [InlineData("192.0.0.170", "reserved (192.0.0.0/24, IETF protocol assignments)")]
    [InlineData("192.0.2.1", "reserved (documentation)")]
    [InlineData("198.18.0.1", "reserved (198.18.0.0/15, benchmarking)")]
    [InlineData("224.0.0.1", "multicast (224.0.0.0/4)")]
    [InlineData("239.255.255.250", "multicast (224.0.0.0/4)")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("4294967295", "broadcast")]
    [InlineData("240.0.0.1", "reserved (240.0.0.0/4)")]
    // IPv6 inside the network
    [InlineData("fc00::1", "unique-local (fc00::/7)")]
    [InlineData("fd00:ec2::254", "unique-local (fc00::/7)")]
    [InlineData("fe80::1", "link-local (fe80::/10)")]
    [InlineData("fe80::1%25eth0", "link-local (fe80::/10)")]
    [InlineData("[fe80::1%eth0]", "link-local (fe80::/10)")]
    [InlineData("fec0::1", "site-local (fec0::/10, deprecated)")]
    [InlineData("ff02::1", "multicast (ff00::/8)")]
    [InlineData("::169.254.169.254", "IPv4-compatible IPv6 (::/96, deprecated)")]
    [InlineData("::8.8.8.8", "IPv4-compatible IPv6 (::/96, deprecated)")]
    [InlineData("64:ff9b:1::a9fe:a9fe", "reserved (64:ff9b:1::/48, local-use NAT64)")]
    [InlineData("2001::a9fe:a9fe", "reserved (2001::/23, IETF protocol assignments, Teredo)")]
    [InlineData("2001:db8::1", "reserved (2001:db8::/32, documentation)")]
    [InlineData("100::1", "reserved (outside global unicast 2000::/3)")]
    [InlineData("::ffff:0:a9fe:a9fe", "reserved (outside global unicast 2000::/3)")]
    public void addresses_inside_the_network_are_refused_in_every_spelling(string host, string reason) =>
        RefusalOfHost(host).ShouldBe(reason);

    [Theory]
    [InlineData("93.184.215.14")]
    [InlineData("8.8.8.8")]
    [InlineData("134744072")] // 8.8.8.8 as one number: public is public however it is written
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.1")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.1")]
    [InlineData("169.253.255.255")]
    [InlineData("192.169.0.1")]
    [InlineData("2606:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::8.8.8.8")]
    [InlineData("2002:808:808::1")]
    public void public_addresses_are_allowed(string host) => RefusalOfHost(host).ShouldBeNull();

    [Theory]
    [InlineData("example.org")]
    [InlineData("localhost")]
    [InlineData("1.2.3.4.5")]
    [InlineData("256.1.1.1")]
    [InlineData("1.2.3.256x")]
    [InlineData("4294967296")]
    [InlineData("1.16777216")]
    [InlineData("08.1.1.1")]
    [InlineData("1..1")]
    [InlineData("")]
    [InlineData("127.0.0.1.nip.io")]
    public void host_names_and_impossible_numbers_are_not_literals(string host) =>
        OutboundAddressRules.TryParseLiteral(host, out _).ShouldBeFalse();

    [Fact]
    public void the_allow_list_matches_exactly_what_it_names()
    {
        var allow = new OutboundAllowList(["127.0.0.1", "CRM.internal", "[fd00::5]"]);
        allow.Allows("127.0.0.1").ShouldBeTrue();
        allow.Allows("crm.internal").ShouldBeTrue();
        allow.Allows("fd00::5").ShouldBeTrue();
        allow.Allows("[fd00:0::5]").ShouldBeTrue(); // an IPv6 address compares as an address
        allow.Allows("127.1").ShouldBeFalse();
        allow.Allows("2130706433").ShouldBeFalse();
        allow.Allows("127.0.0.2").ShouldBeFalse();
        allow.Allows("localhost").ShouldBeFalse();
        allow.Allows("::1").ShouldBeFalse();
        allow.Allows("::ffff:127.0.0.1").ShouldBeFalse();
        allow.Allows("crm.internal.").ShouldBeFalse();
        allow.Allows("x.crm.internal").ShouldBeFalse();
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080/hook", "127.0.0.1", "127.0.0.1")]
    [InlineData("http://127.1:8080/hook", "127.1", "127.0.0.1")]
    [InlineData("http://2852039166/latest/meta-data", "2852039166", "169.254.169.254")]
    [InlineData("http://0xA9FEA9FE/", "0xa9fea9fe", "169.254.169.254")]
    [InlineData("https://[::ffff:169.254.169.254]/", "[::ffff:169.254.169.254]", "::ffff:169.254.169.254")]
    [InlineData("http://①②⑦.0.0.1/", "①②⑦.0.0.1", "127.0.0.1")]
    [InlineData("https://Hooks.Example.org/in?x=1", "hooks.example.org", null)]
    public void a_url_is_taken_apart_as_written_and_as_it_will_be_called(string url, string written, string? literal)
    {
        var target = OutboundUrls.Parse(url, out var problem).ShouldNotBeNull();
        problem.ShouldBeNull();
        target.WrittenHost.ShouldBe(written);
        (target.Literal?.ToString()).ShouldBe(literal);
    }

    [Theory]
    [InlineData(null, "must be an absolute http or https URL.")]
    [InlineData("", "must be an absolute http or https URL.")]
    [InlineData("/relative", "must be an absolute http or https URL.")]
    [InlineData("ftp://example.org/x", "must be an absolute http or https URL.")]
    [InlineData("file:///etc/passwd", "must be an absolute http or https URL.")]
    [InlineData("gopher://127.0.0.1:6379/_", "must be an absolute http or https URL.")]
    [InlineData("http://user:pass@example.org/", "must not contain a user name or password.")]
    [InlineData("http://example.org@127.0.0.1/", "must not contain a user name or password.")]
    [InlineData("http://@127.0.0.1/", "must not contain a user name or password.")]
    public void only_plain_http_and_https_urls_are_outbound_urls(string? url, string reason)
    {
        OutboundUrls.Parse(url, out var problem).ShouldBeNull();
        problem.ShouldBe(reason);
    }

    [Fact]
    public void an_ipv4_literal_parses_to_the_address_resolvers_would_use()
    {
        OutboundAddressRules.TryParseLiteral("0251.0376.0251.0376", out var octal).ShouldBeTrue();
        octal.ShouldBe(IPAddress.Parse("169.254.169.254"));
        OutboundAddressRules.TryParseLiteral("10.1", out var shortForm).ShouldBeTrue();
        shortForm.ShouldBe(IPAddress.Parse("10.0.0.1"));
        OutboundAddressRules.TryParseLiteral("192.168.257", out var threeParts).ShouldBeTrue();
        threeParts.ShouldBe(IPAddress.Parse("192.168.1.1"));
    }
}
