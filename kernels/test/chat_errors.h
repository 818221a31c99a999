/*
 * The decoders' errors of test_chat.c: each body, its endpoint, and what
 * OpenAI would answer (the status is 400 for all): the param, the code
 * and the message.  Decoded with a vocabulary of 1000 tokens, room for
 * 64 messages, 8 token ids and 4 biases.
 */

#ifndef _INFER_TEST_CHAT_ERRORS_H_INCLUDED_
#define _INFER_TEST_CHAT_ERRORS_H_INCLUDED_


#define MSG_U   "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
#define CHAT(x) "{\"model\":\"m\"," MSG_U "," x "}"
#define MSGS(x) "{\"model\":\"m\",\"messages\":[" x "]}"
#define CMPL(x) "{\"model\":\"m\",\"prompt\":\"p\"," x "}"
#define PRM(x)  "{\"model\":\"m\",\"prompt\":" x "}"

static const test_error_t  test_errors[] = {

    /* the request */
    { 1, "[]", NULL, "invalid_type", "Invalid type for the request body: "
      "expected an object, but got an array instead." },
    { 1, "{" MSG_U "}", "model", NULL, "you must provide a model parameter" },
    { 1, "{\"model\":\"\"," MSG_U "}", "model", NULL,
      "you must provide a model parameter" },
    { 1, "{\"model\":1," MSG_U "}", "model", "invalid_type",
      "Invalid type for 'model': expected a string, but got an integer "
      "instead." },
    { 1, "{\"model\":\"m\"}", "messages", "missing_required_parameter",
      "Missing required parameter: 'messages'." },
    { 1, "{\"model\":\"m\",\"messages\":null}", "messages",
      "missing_required_parameter", "Missing required parameter: "
      "'messages'." },
    { 0, "{\"model\":\"m\"," MSG_U "}", "prompt", "missing_required_parameter",
      "Missing required parameter: 'prompt'." },
    { 1, CHAT("\"model\":\"n\""), "model", NULL,
      "Invalid request body: the key 'model' appears twice." },

    /* messages */
    { 1, "{\"model\":\"m\",\"messages\":{}}", "messages", "invalid_type",
      "Invalid type for 'messages': expected an array, but got an object "
      "instead." },
    { 1, MSGS(""), "messages", "empty_array", "Invalid 'messages': empty "
      "array. Expected an array with minimum length 1, but got an empty "
      "array instead." },
    { 1, MSGS("\"hi\""), "messages[0]", "invalid_type", "Invalid type for "
      "'messages[0]': expected an object, but got a string instead." },
    { 1, MSGS("{\"content\":\"x\"}"), "messages[0].role",
      "missing_required_parameter", "Missing required parameter: "
      "'messages[0].role'." },
    { 1, MSGS("{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"user\"}"),
      "messages[1].content", "missing_required_parameter",
      "Missing required parameter: 'messages[1].content'." },
    { 1, MSGS("{\"role\":\"system\",\"content\":null}"),
      "messages[0].content", "invalid_type", "Invalid type for "
      "'messages[0].content': expected one of a string or array of objects,"
      " but got null instead." },
    { 1, MSGS("{\"role\":5,\"content\":\"x\"}"), "messages[0].role",
      "invalid_type", "Invalid type for 'messages[0].role': expected a "
      "string, but got an integer instead." },
    { 1, MSGS("{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"robot\","
              "\"content\":\"x\"}"), "messages[1].role", "invalid_value",
      "Invalid value: 'robot'. Supported values are: 'system', 'assistant', "
      "'user', 'function', 'tool', and 'developer'." },
    { 1, MSGS("{\"role\":\"tool\",\"content\":\"x\"}"), "messages[0].role",
      "unsupported_value", "Unsupported value: 'messages[0].role': 'tool' "
      "messages need tool calling, which this server does not do." },
    { 1, MSGS("{\"role\":\"user\",\"content\":7}"), "messages[0].content",
      "invalid_type", "Invalid type for 'messages[0].content': expected one "
      "of a string or array of objects, but got an integer instead." },
    { 1, MSGS("{\"role\":\"user\",\"content\":[]}"), "messages[0].content",
      "empty_array", "Invalid 'messages[0].content': empty array. Expected "
      "an array with minimum length 1, but got an empty array instead." },
    { 1, MSGS("{\"role\":\"user\",\"content\":[\"x\"]}"),
      "messages[0].content[0]", "invalid_type", "Invalid type for "
      "'messages[0].content[0]': expected an object, but got a string "
      "instead." },
    { 1, MSGS("{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}"),
      "messages[0].content[0].type", "missing_required_parameter",
      "Missing required parameter: 'messages[0].content[0].type'." },
    { 1, MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}"),
      "messages[0].content[0].text", "missing_required_parameter",
      "Missing required parameter: 'messages[0].content[0].text'." },
    { 1, MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"text\","
              "\"text\":1}]}"), "messages[0].content[0].text",
      "invalid_type", "Invalid type for 'messages[0].content[0].text': "
      "expected a string, but got an integer instead." },
    { 1, MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"text\","
              "\"text\":\"a\"},{\"type\":\"image_url\",\"image_url\":{"
              "\"url\":\"data:\"}}]}"), "messages[0].content[1]",
      "unsupported_value", "Unsupported value: 'messages[0].content[1]' is "
      "a 'image_url' part; this model reads text parts only." },
    { 1, MSGS("{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}"),
      "messages[0].content[0].type", "invalid_value", "Invalid value: "
      "'video'. Supported values are: 'text', 'image_url', 'input_audio', "
      "'refusal', 'audio', and 'file'." },
    { 1, MSGS("{\"role\":\"assistant\",\"content\":\"x\",\"tool_calls\":"
              "[{}]}"), "messages[0].tool_calls", "unsupported_value",
      "Unsupported parameter: 'messages[0].tool_calls': this server does no "
      "tool calling." },
    { 1, MSGS("{\"role\":\"user\",\"content\":\"x\",\"name\":[]}"),
      "messages[0].name", "invalid_type", "Invalid type for "
      "'messages[0].name': expected a string, but got an array instead." },
    { 1, MSGS("{\"role\":\"user\",\"role\":\"user\",\"content\":\"x\"}"),
      "messages[0].role", NULL, "Invalid 'messages[0].role': the key 'role' "
      "appears twice." },

    /* the numbers */
    { 1, CHAT("\"temperature\":\"0.5\""), "temperature", "invalid_type",
      "Invalid type for 'temperature': expected a number, but got a string "
      "instead." },
    { 1, CHAT("\"temperature\":2.5"), "temperature",
      "decimal_above_max_value", "Invalid 'temperature': decimal above "
      "maximum value. Expected a value <= 2, but got 2.5 instead." },
    { 1, CHAT("\"temperature\":-0.1"), "temperature",
      "decimal_below_min_value", "Invalid 'temperature': decimal below "
      "minimum value. Expected a value >= 0, but got -0.1 instead." },
    { 1, CHAT("\"top_p\":0"), "top_p", "decimal_below_min_value",
      "Invalid 'top_p': decimal below minimum value. Expected a value > 0, "
      "but got 0 instead." },
    { 1, CHAT("\"top_p\":1.0000001"), "top_p", "decimal_above_max_value",
      "Invalid 'top_p': decimal above maximum value. Expected a value <= 1, "
      "but got 1.0000001 instead." },
    { 1, CHAT("\"min_p\":1.5"), "min_p", "decimal_above_max_value",
      "Invalid 'min_p': decimal above maximum value. Expected a value <= 1, "
      "but got 1.5 instead." },
    { 1, CHAT("\"presence_penalty\":-3"), "presence_penalty",
      "decimal_below_min_value", "Invalid 'presence_penalty': decimal below "
      "minimum value. Expected a value >= -2, but got -3 instead." },
    { 1, CHAT("\"frequency_penalty\":true"), "frequency_penalty",
      "invalid_type", "Invalid type for 'frequency_penalty': expected a "
      "number, but got a boolean instead." },
    { 1, CHAT("\"repetition_penalty\":0"), "repetition_penalty",
      "decimal_below_min_value", "Invalid 'repetition_penalty': decimal "
      "below minimum value. Expected a value > 0, but got 0 instead." },
    { 1, CHAT("\"max_tokens\":0"), "max_tokens", "integer_below_min_value",
      "Invalid 'max_tokens': integer below minimum value. Expected a value "
      ">= 1, but got 0 instead." },
    { 1, CHAT("\"max_tokens\":1.5"), "max_tokens", "invalid_type",
      "Invalid type for 'max_tokens': expected an integer, but got a "
      "decimal instead." },
    { 1, CHAT("\"max_completion_tokens\":2147483648"),
      "max_completion_tokens", "integer_above_max_value",
      "Invalid 'max_completion_tokens': integer above maximum value. "
      "Expected a value <= 2147483647, but got 2147483648 instead." },
    { 1, CHAT("\"seed\":9223372036854775808"), "seed",
      "integer_above_max_value", "Invalid 'seed': integer above maximum "
      "value. Expected a value <= 9223372036854775807, but got "
      "9223372036854775808 instead." },
    { 1, CHAT("\"seed\":\"1\""), "seed", "invalid_type", "Invalid type for "
      "'seed': expected an integer, but got a string instead." },
    { 1, CHAT("\"top_k\":-2"), "top_k", "integer_below_min_value",
      "Invalid 'top_k': integer below minimum value. Expected a value >= "
      "-1, but got -2 instead." },
    { 1, CHAT("\"n\":0"), "n", "integer_below_min_value", "Invalid 'n': "
      "integer below minimum value. Expected a value >= 1, but got 0 "
      "instead." },
    { 1, CHAT("\"n\":3"), "n", "unsupported_value", "Unsupported value: "
      "'n' must be 1: this server generates one of the choices (n) per "
      "request, but got 3." },
    { 1, CHAT("\"top_logprobs\":2"), "top_logprobs", "unsupported_value",
      "Unsupported value: 'top_logprobs' must be 0: this server does not "
      "return log probabilities." },

    /* the other parameters */
    { 1, CHAT("\"stream\":1"), "stream", "invalid_type", "Invalid type for "
      "'stream': expected a boolean, but got an integer instead." },
    { 1, CHAT("\"stream_options\":{\"include_usage\":true}"),
      "stream_options", "invalid_value", "The 'stream_options' parameter is "
      "only allowed when 'stream' is enabled." },
    { 1, CHAT("\"stream\":true,\"stream_options\":[]"), "stream_options",
      "invalid_type", "Invalid type for 'stream_options': expected an "
      "object, but got an array instead." },
    { 1, CHAT("\"stream\":true,\"stream_options\":{\"include_usage\":1}"),
      "stream_options.include_usage", "invalid_type", "Invalid type for "
      "'stream_options.include_usage': expected a boolean, but got an "
      "integer instead." },
    { 1, CHAT("\"ignore_eos\":\"yes\""), "ignore_eos", "invalid_type",
      "Invalid type for 'ignore_eos': expected a boolean, but got a string "
      "instead." },
    { 1, CHAT("\"stop\":5"), "stop", "invalid_type", "Invalid type for "
      "'stop': expected one of a string or array of strings, but got an "
      "integer instead." },
    { 1, CHAT("\"stop\":\"\""), "stop", "invalid_value", "Invalid 'stop': "
      "empty string. Expected a string with minimum length 1." },
    { 1, CHAT("\"stop\":[\"a\",null]"), "stop[1]", "invalid_type",
      "Invalid type for 'stop[1]': expected a string, but got null "
      "instead." },
    { 1, CHAT("\"stop\":[\"a\",\"\"]"), "stop[1]", "invalid_value",
      "Invalid 'stop[1]': empty string. Expected a string with minimum "
      "length 1." },
    { 1, CHAT("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\",6]"), "stop",
      "array_above_max_length", "Invalid 'stop': array too long. Expected "
      "an array with maximum length 4, but got an array with length 6 "
      "instead." },
    { 1, CHAT("\"logit_bias\":[]"), "logit_bias", "invalid_type",
      "Invalid type for 'logit_bias': expected an object, but got an array "
      "instead." },
    { 1, CHAT("\"logit_bias\":{\"a1\":1}"), "logit_bias", "invalid_value",
      "Invalid 'logit_bias': the key 'a1' is not a token id (an integer "
      "from 0 to 999, as a string)." },
    { 1, CHAT("\"logit_bias\":{\"1000\":1}"), "logit_bias", NULL,
      "Invalid 'logit_bias': the token id 1000 is out of the vocabulary "
      "(1000 tokens)." },
    { 1, CHAT("\"logit_bias\":{\"-1\":1}"), "logit_bias", "invalid_value",
      "Invalid 'logit_bias': the key '-1' is not a token id (an integer "
      "from 0 to 999, as a string)." },
    { 1, CHAT("\"logit_bias\":{\"5\":101}"), "logit_bias", "invalid_value",
      "Invalid 'logit_bias': the bias of token 5 is 101; a bias is from "
      "-100 to 100." },
    { 1, CHAT("\"logit_bias\":{\"5\":\"1\"}"), "logit_bias.5",
      "invalid_type", "Invalid type for 'logit_bias.5': expected a number, "
      "but got a string instead." },
    { 1, CHAT("\"logit_bias\":{\"5\":1,\"05\":2}"), "logit_bias", NULL,
      "Invalid 'logit_bias': the token id 5 appears twice." },
    { 1, CHAT("\"logit_bias\":{\"1\":1,\"2\":1,\"3\":1,\"4\":1,\"6\":1}"),
      "logit_bias", NULL, "Invalid 'logit_bias': more than 4 tokens." },
    { 1, CHAT("\"user\":5"), "user", "invalid_type", "Invalid type for "
      "'user': expected a string, but got an integer instead." },
    { 1, CHAT("\"logprobs\":true"), "logprobs", "unsupported_value",
      "Unsupported value: 'logprobs' must be false: this server does not "
      "return log probabilities." },
    { 1, CHAT("\"tools\":[{\"type\":\"function\"}]"), "tools",
      "unsupported_value", "Unsupported parameter: 'tools': this server "
      "does no tool calling." },
    { 1, CHAT("\"functions\":{}"), "functions", "invalid_type",
      "Invalid type for 'functions': expected an array, but got an object "
      "instead." },
    { 1, CHAT("\"tool_choice\":\"required\""), "tool_choice",
      "unsupported_value", "Unsupported value: 'tool_choice': this server "
      "does no tool calling." },
    { 1, CHAT("\"tool_choice\":\"any\""), "tool_choice", "invalid_value",
      "Invalid value: 'any'. Supported values are: 'none', 'auto', and "
      "'required'." },
    { 1, CHAT("\"function_call\":{\"name\":\"f\"}"), "function_call",
      "unsupported_value", "Unsupported value: 'function_call': this "
      "server does no tool calling." },
    { 1, CHAT("\"response_format\":{\"type\":\"json_object\"}"),
      "response_format.type", "unsupported_value", "Unsupported value: "
      "'response_format.type' must be 'text': this server does not "
      "constrain the output to JSON." },
    { 1, CHAT("\"response_format\":{\"type\":\"xml\"}"),
      "response_format.type", "invalid_value", "Invalid value: 'xml'. "
      "Supported values are: 'text', 'json_object', and 'json_schema'." },
    { 1, CHAT("\"response_format\":{}"), "response_format.type",
      "missing_required_parameter", "Missing required parameter: "
      "'response_format.type'." },
    { 1, CHAT("\"response_format\":\"text\""), "response_format",
      "invalid_type", "Invalid type for 'response_format': expected an "
      "object, but got a string instead." },

    /* /v1/completions */
    { 0, PRM("5"), "prompt", "invalid_type", "Invalid type for 'prompt': "
      "expected a string, an array of strings, an array of integers or an "
      "array of arrays of integers, but got an integer instead." },
    { 0, PRM("[]"), "prompt", "empty_array", "Invalid 'prompt': empty "
      "array. Expected an array with minimum length 1, but got an empty "
      "array instead." },
    { 0, PRM("[\"a\",\"b\"]"), "prompt", "unsupported_value",
      "Unsupported value: 'prompt' holds more than one prompt; this server "
      "serves one prompt per request." },
    { 0, PRM("[[1],[2]]"), "prompt", "unsupported_value",
      "Unsupported value: 'prompt' holds more than one prompt; this server "
      "serves one prompt per request." },
    { 0, PRM("[[]]"), "prompt[0]", "empty_array", "Invalid 'prompt[0]': "
      "empty array. Expected an array with minimum length 1, but got an "
      "empty array instead." },
    { 0, PRM("[{}]"), "prompt[0]", "invalid_type", "Invalid type for "
      "'prompt[0]': expected a string, an integer or an array of integers, "
      "but got an object instead." },
    { 0, PRM("[1,\"a\"]"), "prompt[1]", "invalid_type", "Invalid type for "
      "'prompt[1]': expected an integer, but got a string instead." },
    { 0, PRM("[1,-1]"), "prompt[1]", "integer_below_min_value",
      "Invalid 'prompt[1]': integer below minimum value. Expected a value "
      ">= 0, but got -1 instead." },
    { 0, PRM("[[1,1000]]"), "prompt[0][1]", NULL, "Invalid 'prompt[0][1]': "
      "1000 is out of the vocabulary (1000 tokens)." },
    { 0, PRM("[2.0]"), "prompt[0]", "invalid_type", "Invalid type for "
      "'prompt[0]': expected an integer, but got a decimal instead." },
    { 0, PRM("[1,2,3,4,5,6,7,8,9]"), "prompt", NULL, "Invalid 'prompt': "
      "more than 8 token ids." },
    { 0, CMPL("\"echo\":true"), "echo", "unsupported_value",
      "Unsupported value: 'echo' must be false: this server does not echo "
      "the prompt." },
    { 0, CMPL("\"suffix\":\"\""), "suffix", "unsupported_value",
      "Unsupported parameter: 'suffix': this server does not insert text." },
    { 0, CMPL("\"best_of\":2"), "best_of", "unsupported_value",
      "Unsupported value: 'best_of' must be 1: this server generates one "
      "of the candidates (best_of) per request, but got 2." },
    { 0, CMPL("\"logprobs\":1"), "logprobs", "unsupported_value",
      "Unsupported parameter: 'logprobs': this server does not return log "
      "probabilities." },
    { 0, CMPL("\"logprobs\":true"), "logprobs", "invalid_type",
      "Invalid type for 'logprobs': expected an integer, but got a boolean "
      "instead." },

    /* malformed JSON anywhere wins */
    { 1, CHAT("\"temperature\":9,\"x\":[1,]"), NULL, NULL,
      "malformed JSON at line 1, column 80: unexpected token near ']'" },
    { 1, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"\\ud800\"}]}", NULL, NULL, "malformed JSON at line 1, column 58: "
      "invalid Unicode '\\uD800' near '\"\\ud800\"'" },

    { 0, NULL, NULL, NULL, NULL }
};


#endif /* _INFER_TEST_CHAT_ERRORS_H_INCLUDED_ */
