"""The HTTP probe function in template.yaml — its own least-privilege role, and the VPC placement."""

from __future__ import annotations

from .test_template import RESOURCES, TEMPLATE, actions_of, all_statements, as_list

PROBE = RESOURCES["ProbeFunction"]["Properties"]
ROLE = RESOURCES["ProbeFunctionRole"]["Properties"]
VPC_POLICY = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"


def test_the_vpc_parameters_default_to_no_vpc():
    # Given the stack parameters / Then subnets and security groups are lists, empty by default
    for name in ("ProbeSubnetIds", "ProbeSecurityGroupIds"):
        parameter = TEMPLATE["Parameters"][name]
        assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    # ... and the condition is "some subnet was given"
    assert TEMPLATE["Conditions"]["ProbeInVpc"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "ProbeSubnetIds"}]}, ""]}]
    }


def test_the_probe_function_is_placed_in_the_vpc_only_when_subnets_are_given():
    assert PROBE["VpcConfig"] == {
        "Fn::If": [
            "ProbeInVpc",
            {"SubnetIds": {"Ref": "ProbeSubnetIds"}, "SecurityGroupIds": {"Ref": "ProbeSecurityGroupIds"}},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_the_probe_role_gets_network_interface_permissions_only_in_a_vpc():
    # Given the probe function's own role (SAM would attach the VPC policy to a generated role for any VpcConfig)
    assert PROBE["Role"] == {"Fn::GetAtt": ["ProbeFunctionRole", "Arn"]}
    assert "Policies" not in PROBE
    # Then Lambda alone may assume it ...
    (trust,) = ROLE["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Principal"], trust["Action"]) == ({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole")
    # ... it has no inline policy (the probe calls no AWS API), logs and traces always, ENIs only in a VPC
    assert "Policies" not in ROLE
    plain, conditional = ROLE["ManagedPolicyArns"][:2], ROLE["ManagedPolicyArns"][2:]
    assert [p["Fn::Sub"] for p in plain] == [
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess",
    ]
    assert conditional == [{"Fn::If": ["ProbeInVpc", {"Fn::Sub": VPC_POLICY}, {"Ref": "AWS::NoValue"}]}]


def test_only_run_hooks_may_invoke_the_probe_and_it_knows_its_name():
    probe_arn = {"Fn::GetAtt": ["ProbeFunction", "Arn"]}
    invoking = [
        owner
        for owner, statement in all_statements()
        if "lambda:InvokeFunction" in actions_of(statement) and probe_arn in as_list(statement["Resource"])
    ]
    assert invoking == ["RunHooksFunction"]
    variables = RESOURCES["RunHooksFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["PROBE_FUNCTION_NAME"] == {"Ref": "ProbeFunction"}
    assert PROBE["Environment"]["Variables"]["PROBE_PROXY_URL"] == {"Ref": "ProbeProxyUrl"}


def test_a_probe_may_take_as_long_as_its_hook_and_run_hooks_outlives_it():
    from bluegreen.domain.hooks import MAX_HOOK_SECONDS

    assert MAX_HOOK_SECONDS < PROBE["Timeout"] < RESOURCES["RunHooksFunction"]["Properties"]["Timeout"]
