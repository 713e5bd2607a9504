using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// DSQL refused the IAM token twice (the second time freshly signed). The message names the user, the endpoint and
/// the IAM action the signing identity needs; the server's error is the inner exception.
/// </summary>
public sealed class DsqlAuthenticationException : NpgsqlException
{
    internal DsqlAuthenticationException(string endpoint, string user, PostgresException inner)
        : base(BuildMessage(endpoint, user, inner), inner)
    {
        Endpoint = endpoint;
        User = user;
    }

    /// <summary>The endpoint that refused the token.</summary>
    public string Endpoint { get; }

    /// <summary>The database user the token was for.</summary>
    public string User { get; }

    /// <summary>The IAM action the credentials need on the cluster for this user.</summary>
    public string RequiredIamAction => RequiredAction(User);

    internal static string RequiredAction(string user) => user == "admin" ? "dsql:DbConnectAdmin" : "dsql:DbConnect";

    private static string BuildMessage(string endpoint, string user, PostgresException inner)
        => $"DSQL at {endpoint} refused the IAM token for user '{user}' ({inner.SqlState}: {inner.MessageText}). " +
           $"The credentials that sign the token need the IAM permission {RequiredAction(user)} on this cluster" +
           (user == "admin" ? "" : $", and the role '{user}' must exist and be granted to that IAM identity (AWS IAM GRANT)") +
           ". Check the Region, the profile or credentials in use, and that the clock of this machine is right.";
}
