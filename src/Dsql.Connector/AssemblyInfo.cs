namespace Dsql.Connector;
