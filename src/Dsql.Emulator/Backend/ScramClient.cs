using System.Security.Cryptography;
using System.Text;

namespace Dsql.Emulator.Backend;

/// <summary>The client side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL uses it, without channel binding.</summary>
internal sealed class ScramClient(string password)
{
    private readonly string _clientNonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
    private string _clientFirstBare = "";
    private byte[] _expectedServerSignature = [];

    public byte[] ClientFirst()
    {
        _clientFirstBare = "n=,r=" + _clientNonce;
        return Encoding.ASCII.GetBytes("n,," + _clientFirstBare);
    }

    public byte[] ClientFinal(ReadOnlySpan<byte> serverFirstBytes)
    {
        string serverFirst = Encoding.ASCII.GetString(serverFirstBytes);
        string? nonce = null, salt = null;
        int iterations = 0;
        foreach (var part in serverFirst.Split(','))
        {
            if (part.StartsWith("r=", StringComparison.Ordinal)) nonce = part[2..];
            else if (part.StartsWith("s=", StringComparison.Ordinal)) salt = part[2..];
            else if (part.StartsWith("i=", StringComparison.Ordinal)) iterations = int.Parse(part[2..], System.Globalization.CultureInfo.InvariantCulture);
        }
        if (nonce is null || salt is null || iterations <= 0 || !nonce.StartsWith(_clientNonce, StringComparison.Ordinal))
            throw new BackendLoginException("the PostgreSQL backend sent an invalid SCRAM challenge");

        byte[] saltedPassword = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), Convert.FromBase64String(salt), iterations, HashAlgorithmName.SHA256, 32);
        byte[] clientKey = HMACSHA256.HashData(saltedPassword, "Client Key"u8);
        byte[] storedKey = SHA256.HashData(clientKey);
        string clientFinalWithoutProof = "c=biws,r=" + nonce;
        byte[] authMessage = Encoding.ASCII.GetBytes(_clientFirstBare + "," + serverFirst + "," + clientFinalWithoutProof);
        byte[] clientSignature = HMACSHA256.HashData(storedKey, authMessage);
        byte[] proof = new byte[clientKey.Length];
        for (int i = 0; i < proof.Length; i++) proof[i] = (byte)(clientKey[i] ^ clientSignature[i]);
        byte[] serverKey = HMACSHA256.HashData(saltedPassword, "Server Key"u8);
        _expectedServerSignature = HMACSHA256.HashData(serverKey, authMessage);
        return Encoding.ASCII.GetBytes(clientFinalWithoutProof + ",p=" + Convert.ToBase64String(proof));
    }

    public void VerifyServerFinal(ReadOnlySpan<byte> serverFinalBytes)
    {
        string serverFinal = Encoding.ASCII.GetString(serverFinalBytes);
        if (!serverFinal.StartsWith("v=", StringComparison.Ordinal)
            || !CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(serverFinal[2..]), _expectedServerSignature))
            throw new BackendLoginException("the PostgreSQL backend's SCRAM signature does not verify");
    }
}
