using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Apex.Chat.Api;

internal static class ChatProblems
{
    public static ProblemHttpResult NotFound(string what)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status404NotFound,
            Title = "Not Found",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.5",
            Detail = $"{what} not found.",
        };
        problem.Extensions["code"] = "not_found";
        return TypedResults.Problem(problem);
    }

    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The request is invalid.",
            Type = "https://tools.ietf.org/html/rfc4918#section-11.2",
            Detail = "See errors for each invalid field.",
        });

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Conflict(string code, string detail)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status409Conflict,
            Title = "Conflict",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.10",
            Detail = detail,
        };
        problem.Extensions["code"] = code;
        return TypedResults.Problem(problem);
    }
}
