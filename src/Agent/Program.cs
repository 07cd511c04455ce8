return await OdooFleet.Agent.Cli.AgentCli.RunAsync(args);
