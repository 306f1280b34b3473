"""Amazon EC2: every network interface has a private DNS name, as EC2 gives it."""

from __future__ import annotations

from typing import Any

from .core import Patcher


def private_dns_names(patcher: Patcher) -> None:
    """Every network interface has a private DNS name, whatever the VPC's ``enableDnsHostnames``."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
    from moto.ec2.utils import generate_dns_from_ip

    original = NetworkInterfaceBackend.create_network_interface

    def create_network_interface(self: Any, *args: Any, **kwargs: Any) -> Any:
        eni = original(self, *args, **kwargs)
        if not getattr(eni, "private_dns_name", None) and eni.private_ip_address:
            eni.private_dns_name = generate_dns_from_ip(eni.private_ip_address)
        return eni

    # moto gap: moto sets an ENI's private DNS name only in a VPC with DNS hostnames enabled (``aws ec2 create-vpc``
    # leaves them off), and its ECS Task then fails reading it (AttributeError) for any awsvpc task in such a VPC.
    # EC2 gives every interface a private IPv4 DNS name, ip-<address>.ec2.internal in us-east-1
    # (https://docs.aws.amazon.com/vpc/latest/userguide/AmazonDNS-concepts.html#vpc-dns-hostnames).
    patcher.replace(NetworkInterfaceBackend, "create_network_interface", create_network_interface)
